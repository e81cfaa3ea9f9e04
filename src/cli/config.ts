import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
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

/** `~/.roost`: the data dir when neither `--data-dir` nor ROOST_DATA_DIR gives one. */
export function homeDataDir (): string {
  return join(homedir(), '.roost')
}

export function defaultDataDir (): string {
  return process.env.ROOST_DATA_DIR ?? homeDataDir()
}

export function parseIntOption (value: string, name: string, min = 0): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer ≥ ${min}, got '${value}'`)
  return n
}
