import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { InvalidMessageError, UnknownMessageTypeError } from '../errors/errors.js'
import { flatBodies } from './flat-bodies.js'

/** One message type: the schema of its body (without `type`) and of its reply. */
export interface MessageSpec<B extends TObject = TObject, R extends TSchema = TSchema> {
  body: B
  reply: R
}

/** Message type → spec. Keys are dotted names, e.g. `machine.start`. */
export type ProtocolSpec = Record<string, MessageSpec>

/** A message of the protocol, as actors see it: the body's fields plus `type`. */
export type MessageOf<S extends ProtocolSpec> = {
  [K in keyof S & string]: { type: K } & Static<S[K]['body']>
}[keyof S & string]

/** The message of one type. */
export type MessageOfType<S extends ProtocolSpec, K extends keyof S & string> = { type: K } & Static<S[K]['body']>

/** The reply to a message type. */
export type ReplyOf<S extends ProtocolSpec, K extends keyof S & string> = Static<S[K]['reply']>

/**
 * A family's message set with compiled validators. A wire body is `unknown` until
 * {@link Protocol.parse} has checked it against its type's schema.
 */
export interface Protocol<S extends ProtocolSpec> {
  readonly name: string
  readonly specs: S
  has: (type: string) => type is keyof S & string
  /** Validates a wire body and returns it as the message (tagged with `type` in place), or throws a typed error. */
  parse: (type: string, body: unknown) => MessageOf<S>
}

/**
 * Each type's validator is compiled when a message of that type first arrives: the agent's
 * families declare ~90 types, most of which an agent may never receive (compiled up front they
 * held ~0.8 MB of its heap).
 */
export function defineProtocol<S extends ProtocolSpec> (name: string, specs: S): Protocol<S> {
  const checks = new Map<string, TypeCheck<TObject> | null>()
  for (const [type, spec] of Object.entries(specs)) {
    if (spec.body.properties.type !== undefined) throw new TypeError(`${name}: body of ${type} must not declare 'type'`)
    checks.set(type, null)
    flatBodies.register(type, spec.body)
  }
  const has = (type: string): type is keyof S & string => checks.has(type)
  const compiled = (type: string): TypeCheck<TObject> => {
    const check = TypeCompiler.Compile(withTypeAllowed((specs[type] as MessageSpec).body))
    checks.set(type, check)
    return check
  }
  return {
    name,
    specs,
    has,
    parse (type, body) {
      let check = checks.get(type)
      if (check === undefined) {
        throw new UnknownMessageTypeError(`${name} does not handle message type '${type}'`, { type, protocol: name })
      }
      check ??= compiled(type)
      if (!check.Check(body)) {
        const first = check.Errors(body).First()
        const where = first === undefined ? '' : ` at '${first.path || '/'}': ${first.message}`
        throw new InvalidMessageError(`invalid ${type} body${where}`, { type, path: first?.path ?? '' })
      }
      // The body is a freshly decoded object owned by the receiver: tag it in place.
      (body as Record<string, unknown>).type = type
      return body as MessageOf<S>
    }
  }
}

/**
 * A message crosses hosts whole, `type` included (codec/compact-envelope.ts), and `parse` tags
 * the body with it anyway: a body schema that refuses unnamed properties must still let `type` pass.
 */
function withTypeAllowed (body: TObject): TObject {
  if (body.additionalProperties !== false) return body
  return { ...body, properties: { ...body.properties, type: Type.Optional(Type.String()) } }
}
