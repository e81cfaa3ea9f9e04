import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../errors/errors.js'
import { devPointerDataDir } from './dev-pointer.js'

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

/** `~/.roost`: the data dir when neither `--data-dir` nor ROOST_DATA_DIR gives one. */
export function homeDataDir (): string {
  return join(homedir(), '.roost')
}

let fromDevPointer: { cwd: string, dataDir: string | undefined } | undefined

/**
 * The data dir a command talks to when `--data-dir` is not given: ROOST_DATA_DIR, else the first
 * host of the `roost dev` running from this folder (its pointer file, see dev-pointer.ts), else
 * `~/.roost`. The pointer is read once per process (a stale one is noted once, on stderr).
 */
export function defaultDataDir (): string {
  if (process.env.ROOST_DATA_DIR !== undefined) return process.env.ROOST_DATA_DIR
  const cwd = process.cwd()
  if (fromDevPointer?.cwd !== cwd) fromDevPointer = { cwd, dataDir: devPointerDataDir(cwd, message => { process.stderr.write(`${message}\n`) }) }
  return fromDevPointer.dataDir ?? homeDataDir()
}

export function parseIntOption (value: string, name: string, min = 0): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer ≥ ${min}, got '${value}'`)
  return n
}
