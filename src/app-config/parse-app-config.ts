import { parse, TomlError } from 'smol-toml'
import type { AppSpec } from './app-spec.js'
import { AppConfigError } from './errors.js'
import { formatKeyPath, type KeyPath } from './key-path.js'
import { normaliseAppConfig } from './normalise.js'
import { AppConfigDocSchema, type AppConfigDoc } from './schema.js'
import { documentErrors } from './schema-errors.js'
import { lineOf, locateKeys } from './toml-locator.js'

/** Further errors listed under the first one in a message. */
const MORE_SHOWN = 5

interface Located { path: string, line: number, message: string }

function located (lines: Map<string, number>, path: KeyPath, message: string): Located {
  // A key missing from the top level has no line of its own: the document starts at line 1.
  return { path: formatKeyPath(path), line: lineOf(lines, path) ?? 1, message }
}

function configError (file: string, errors: Located[]): AppConfigError {
  const [first, ...rest] = errors
  if (first === undefined) return new AppConfigError(`${file}: invalid`, { file })
  const text = (e: Located): string => `${file}:${e.line}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`
  const more = rest.slice(0, MORE_SHOWN).map(e => `\n  ${text(e)}`).join('') + (rest.length > MORE_SHOWN ? `\n  (${rest.length - MORE_SHOWN} more)` : '')
  return new AppConfigError(text(first) + more, { file, line: first.line, path: first.path, errors })
}

/**
 * Reads a roost.toml (fly.toml-shaped): TOML syntax (smol-toml), then the document schema
 * (unknown keys are errors), then what the keys mean together (a port used twice, handlers
 * options without their handler, limits the wrong way round). Throws AppConfigError naming
 * `file`, the line and the key path; returns the AppSpec with defaults filled in.
 */
export function parseAppConfig (source: string, file: string): AppSpec {
  let doc: unknown
  try {
    doc = parse(source)
  } catch (err) {
    if (!(err instanceof TomlError)) throw err
    const what = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '')
    throw new AppConfigError(`${file}:${err.line}:${err.column}: TOML syntax: ${what}`, { file, line: err.line, column: err.column })
  }
  const errors = documentErrors(AppConfigDocSchema, doc)
  if (errors.length > 0) {
    const lines = locateKeys(source)
    const all = errors.map(e => located(lines, e.path, e.message))
    // The first error in the file first, as an author reads it; the schema's order breaks ties.
    throw configError(file, all.map((e, i) => ({ e, i })).sort((a, b) => a.e.line - b.e.line || a.i - b.i).map(x => x.e))
  }
  return normaliseAppConfig(doc as AppConfigDoc, (path, message) => {
    throw configError(file, [located(locateKeys(source), path, message)])
  })
}
