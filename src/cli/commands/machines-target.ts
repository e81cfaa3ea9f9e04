import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { ConfigError } from '../../errors/errors.js'

/** Where the Machines API is and how to authenticate to it. */
export interface ApiTarget {
  url: string
  token: string
  /** Where the URL came from, for error messages. */
  source: 'flag' | 'env' | 'agent.json'
}

export interface ApiTargetOptions {
  dataDir: string
  api?: string
  token?: string
}

function readOrUndefined (path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`)
  }
}

const nonEmpty = (s: string | undefined): string | undefined => s === undefined || s.length === 0 ? undefined : s

/**
 * The API URL from --api, ROOST_API_URL or `<dataDir>/agent.json` (field `api`), and the token
 * from --token, ROOST_API_TOKEN or `<dataDir>/api.token`, in that order.
 */
export function resolveApiTarget (opts: ApiTargetOptions): ApiTarget {
  const dataDir = resolve(opts.dataDir)
  let url = nonEmpty(opts.api)
  let source: ApiTarget['source'] = 'flag'
  if (url === undefined && nonEmpty(process.env.ROOST_API_URL) !== undefined) {
    url = process.env.ROOST_API_URL
    source = 'env'
  }
  if (url === undefined) {
    source = 'agent.json'
    const file = join(dataDir, 'agent.json')
    const text = readOrUndefined(file)
    if (text === undefined) throw new ConfigError(`no agent running with data dir ${dataDir} (agent.json missing); start one with roost agent start`, { dataDir })
    let info: { api?: unknown }
    try {
      info = JSON.parse(text) as { api?: unknown }
    } catch {
      throw new ConfigError(`${file} is not JSON`)
    }
    if (typeof info.api !== 'string' || info.api.length === 0) {
      throw new ConfigError(`the agent with data dir ${dataDir} does not serve the Machines API (no "api" in agent.json)`, { dataDir })
    }
    url = info.api
  }
  let token = nonEmpty(opts.token) ?? nonEmpty(process.env.ROOST_API_TOKEN)
  if (token === undefined) {
    const file = join(dataDir, 'api.token')
    token = nonEmpty(readOrUndefined(file)?.trim())
    if (token === undefined) throw new ConfigError(`no Machines API token: ${file} is missing or empty (pass --token or set ROOST_API_TOKEN)`, { dataDir })
  }
  return { url: url ?? '', token, source }
}
