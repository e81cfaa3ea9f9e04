import type { ProtocolSpec } from '../codec/protocol.js'
import { InvalidArgumentError } from '../errors/errors.js'

/**
 * A typed, serialisable address of an actor: plain data, so it can travel in messages.
 * The protocol parameter exists only for the compiler: a message the actor does not declare
 * does not type-check.
 */
export interface Ref<S extends ProtocolSpec> {
  readonly host: string
  readonly path: string
  /** Phantom: never set at run time. */
  readonly __protocol?: S
}

const PATH_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/

export function isValidPath (path: string): boolean {
  if (!path.startsWith('/')) return false
  const parts = path.slice(1).split('/')
  return parts.length > 0 && parts.every(p => PATH_SEGMENT.test(p))
}

export function isValidName (name: string): boolean {
  return PATH_SEGMENT.test(name)
}

export function childPath (parent: string | null, name: string): string {
  if (!isValidName(name)) throw new InvalidArgumentError(`invalid actor name '${name}'`, { name })
  return parent === null ? `/${name}` : `${parent}/${name}`
}

export function ref<S extends ProtocolSpec> (host: string, path: string): Ref<S> {
  return { host, path }
}

/** `host/agent/x` for logs and the CLI. */
export function formatRef (r: Ref<ProtocolSpec>): string {
  return `${r.host}${r.path}`
}

/**
 * Splits `host/agent/machines/x` into its host part and its path. The host part may be an id,
 * an id prefix, a name, or `local`; resolving it is the caller's job.
 */
export function parseTarget (target: string): { host: string, path: string } {
  const slash = target.indexOf('/')
  if (slash <= 0) throw new InvalidArgumentError(`target '${target}' must look like <host>/<actor-path>`, { target })
  const host = target.slice(0, slash)
  const path = target.slice(slash)
  if (!isValidPath(path)) throw new InvalidArgumentError(`'${path}' is not a valid actor path`, { target })
  return { host, path }
}
