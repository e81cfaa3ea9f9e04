import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse, TomlError } from 'smol-toml'
import { lineOf, locateKeys } from '../app-config/toml-locator.js'
import { ConfigError } from '../errors/errors.js'
import type { AgentOption } from './agent-options.js'

/** One option's value as an agent config file gives it: the text a flag would carry, and where it was written. */
export interface FileValue {
  readonly text: string
  /** `<file>:<line>: <key>`, for the errors its value may cause. */
  readonly where: string
}

/** The options an agent config file gives, by option key (as in `AGENT_OPTIONS`). */
export type AgentFileValues = ReadonlyMap<string, FileValue>

/** The key an option has in the file: its flag's long name (`--data-dir <dir>` → `data-dir`). */
export function fileKeyOf (option: AgentOption<unknown>): string | undefined {
  return option.flag?.split(' ')[0]?.replace(/^--/, '')
}

function typeName (value: unknown): string {
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Date) return 'a date'
  if (value !== null && typeof value === 'object') return 'a table'
  if (value === '') return 'an empty string'
  return typeof value === 'number' ? (Number.isInteger(value) ? 'an integer' : 'a float') : `a ${typeof value}`
}

/** The value as the text its flag would carry; undefined when the TOML type is not the option's. */
function asText (option: AgentOption<unknown>, value: unknown, file: string): string | undefined {
  switch (option.fileValue ?? 'string') {
    case 'path':
      return typeof value === 'string' && value.length > 0 ? resolve(dirname(file), value) : undefined
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value) ? String(value) : undefined
    case 'boolean':
      return typeof value === 'boolean' ? String(value) : undefined
    case 'list':
      if (typeof value === 'string') return value
      return Array.isArray(value) && value.every(v => typeof v === 'string') ? value.join(',') : undefined
    case 'string':
      return typeof value === 'string' ? value : undefined
  }
}

const EXPECTED = { string: 'a string', integer: 'an integer', boolean: 'true or false', list: 'a string or an array of strings', path: 'a non-empty string' } as const

/**
 * Reads an agent config file (TOML): top-level keys named as `roost agent start`'s flags without
 * their dashes (`data-dir = "/var/lib/roost"`), each holding what the flag would. An unreadable
 * file, bad TOML, an unknown key, a table or a value of the wrong type is a ConfigError naming
 * the file and line. Paths are taken relative to the file's folder. Values are checked by each
 * option's own parser when they are resolved.
 */
export function readAgentConfigFile (file: string, options: Readonly<Record<string, AgentOption<unknown>>>): AgentFileValues {
  let source: string
  try {
    source = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read the agent config ${file}: ${(err as Error).message}`, { file })
  }
  let doc: Record<string, unknown>
  try {
    doc = parse(source) as Record<string, unknown>
  } catch (err) {
    if (!(err instanceof TomlError)) throw err
    const what = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '')
    throw new ConfigError(`${file}:${err.line}:${err.column}: TOML syntax: ${what}`, { file, line: err.line })
  }
  const byFileKey = new Map<string, [string, AgentOption<unknown>]>()
  for (const [key, option] of Object.entries(options)) {
    const fileKey = fileKeyOf(option)
    if (fileKey !== undefined && fileKey !== 'config') byFileKey.set(fileKey, [key, option])
  }
  const lines = locateKeys(source)
  const values = new Map<string, FileValue>()
  for (const [fileKey, value] of Object.entries(doc)) {
    const line = lineOf(lines, [fileKey]) ?? 1
    const at = `${file}:${line}`
    const known = byFileKey.get(fileKey)
    if (known === undefined) {
      const kebab = fileKey.replace(/_/g, '-')
      const hint = byFileKey.has(kebab) ? ` (keys are written as the flags are: did you mean '${kebab}'?)` : ' (keys are the long names of `roost agent start`\'s flags, e.g. data-dir)'
      throw new ConfigError(`${at}: unknown key '${fileKey}'${hint}`, { file, line, key: fileKey })
    }
    const [key, option] = known
    const text = asText(option, value, file)
    if (text === undefined) {
      throw new ConfigError(`${at}: ${fileKey} must be ${EXPECTED[option.fileValue ?? 'string']}, not ${typeName(value)}`, { file, line, key: fileKey })
    }
    values.set(key, { text, where: `${at}: ${fileKey}` })
  }
  return values
}
