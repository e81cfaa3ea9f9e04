import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CONTROL_SOCKET_FILE } from '../api/control-api.js'
import { ConfigError } from '../errors/errors.js'

function findPackageJson (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const candidate = join(dir, 'package.json')
    if (existsSync(candidate)) return candidate
    const up = dirname(dir)
    if (up === dir) throw new Error('package.json of roost not found')
    dir = up
  }
}

/** The directory of roost's package.json (the repo root in a checkout). */
export function packageRoot (): string {
  return dirname(findPackageJson())
}

/** Version of this roost build (from package.json). */
export const ROOST_VERSION: string = (JSON.parse(readFileSync(findPackageJson(), 'utf8')) as { version: string }).version

export const DEFAULT_CLUSTER = 'roost'

export function defaultDataDir (): string {
  return process.env.ROOST_DATA_DIR ?? join(homedir(), '.roost')
}

export function socketPathFor (dataDir: string): string {
  return join(resolve(dataDir), CONTROL_SOCKET_FILE)
}

/** The cluster secret from --secret, --secret-file or ROOST_SECRET, in that order. */
export function readSecret (opts: { secret?: string, secretFile?: string }): string {
  if (opts.secret !== undefined && opts.secret.length > 0) return opts.secret
  if (opts.secretFile !== undefined) {
    const value = readFileSync(opts.secretFile, 'utf8').trim()
    if (value.length === 0) throw new ConfigError(`${opts.secretFile} is empty`)
    return value
  }
  const env = process.env.ROOST_SECRET
  if (env !== undefined && env.length > 0) return env
  throw new ConfigError('a cluster secret is required: --secret, --secret-file or ROOST_SECRET (every host of the cluster uses the same one)')
}

export function parseIntOption (value: string, name: string, min = 0): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer ≥ ${min}, got '${value}'`)
  return n
}
