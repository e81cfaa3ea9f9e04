import { formatKeyPath, type KeyPath } from './key-path.js'

/**
 * Where each key of a TOML document is defined: formatted key path → 1-based line. Tracks
 * `[table]` and `[[array]]` headers (with the array indices they open), dotted keys, inline
 * tables and arrays (elements by index, across lines). It reads documents smol-toml already
 * accepted, so it does not re-validate; on anything unexpected it stops and keeps what it found.
 */
export function locateKeys (source: string): Map<string, number> {
  const lines = new Map<string, number>()
  const arrayCounts = new Map<string, number>()
  let pos = 0
  let line = 1
  const at = (k = 0): string => source[pos + k] ?? ''

  const record = (path: KeyPath, where: number): void => {
    for (let i = 1; i <= path.length; i++) {
      const key = formatKeyPath(path.slice(0, i))
      if (!lines.has(key)) lines.set(key, where)
    }
  }
  const advance = (n = 1): void => {
    for (let i = 0; i < n && pos < source.length; i++) {
      if (source[pos] === '\n') line++
      pos++
    }
  }
  const skipSpaces = (): void => { while (at() === ' ' || at() === '\t') advance() }
  const skipComment = (): void => { if (at() === '#') while (pos < source.length && at() !== '\n') advance() }
  /** Spaces, newlines and comments (between statements and inside arrays). */
  const skipBlank = (): void => {
    for (;;) {
      skipSpaces()
      if (at() === '#') skipComment()
      else if (at() === '\n' || at() === '\r') advance()
      else return
    }
  }

  const basicString = (): string => {
    advance()
    let raw = ''
    while (pos < source.length && at() !== '"' && at() !== '\n') {
      if (at() === '\\') { raw += at() + at(1); advance(2) } else { raw += at(); advance() }
    }
    advance()
    try { return JSON.parse(`"${raw}"`) as string } catch { return raw }
  }
  const literalString = (): string => {
    advance()
    const start = pos
    while (pos < source.length && at() !== '\'' && at() !== '\n') advance()
    const s = source.slice(start, pos)
    advance()
    return s
  }
  const multiline = (quote: string): void => {
    advance(3)
    while (pos < source.length && source.slice(pos, pos + 3) !== quote) advance(quote === '"""' && at() === '\\' ? 2 : 1)
    advance(3)
    // A closing delimiter may be followed by up to two more quotes that belong to the string.
    while (at() === quote[0]) advance()
  }

  const readKey = (): string[] => {
    const keys: string[] = []
    for (;;) {
      skipSpaces()
      if (at() === '"') keys.push(basicString())
      else if (at() === '\'') keys.push(literalString())
      else {
        const start = pos
        while (/[A-Za-z0-9_-]/.test(at())) advance()
        if (pos === start) return keys
        keys.push(source.slice(start, pos))
      }
      skipSpaces()
      if (at() !== '.') return keys
      advance()
    }
  }

  const readValue = (path: KeyPath): void => {
    skipSpaces()
    const c = at()
    if (c === '"' || c === '\'') {
      if (source.slice(pos, pos + 3) === c.repeat(3)) multiline(c.repeat(3))
      else if (c === '"') basicString()
      else literalString()
    } else if (c === '[') {
      advance()
      for (let i = 0; ; i++) {
        skipBlank()
        if (at() === ']' || pos >= source.length) break
        record([...path, i], line)
        readValue([...path, i])
        skipBlank()
        if (at() === ',') advance()
        else break
      }
      skipBlank()
      advance()
    } else if (c === '{') {
      advance()
      // TOML 1.1 (which smol-toml reads) lets inline tables span lines and hold comments.
      for (;;) {
        skipBlank()
        if (at() === '}' || pos >= source.length) break
        const where = line
        const keys = readKey()
        if (keys.length === 0) break
        skipSpaces()
        if (at() !== '=') break
        advance()
        record([...path, ...keys], where)
        readValue([...path, ...keys])
        skipBlank()
        if (at() === ',') advance()
      }
      advance()
    } else {
      while (pos < source.length && !/[,\]}\n\r#]/.test(at())) advance()
    }
  }

  /** A header's keys as a concrete path: each array of tables it passes through is at its last element. */
  const concrete = (keys: string[]): Array<string | number> => {
    const out: Array<string | number> = []
    for (const k of keys) {
      out.push(k)
      const n = arrayCounts.get(formatKeyPath(out))
      if (n !== undefined) out.push(n - 1)
    }
    return out
  }

  let table: KeyPath = []
  while (pos < source.length) {
    skipBlank()
    if (pos >= source.length) break
    const where = line
    if (at() === '[') {
      const isArray = at(1) === '['
      advance(isArray ? 2 : 1)
      const keys = readKey()
      if (keys.length === 0) break
      if (isArray) {
        const parent = concrete(keys.slice(0, -1))
        const arrayPath = [...parent, keys[keys.length - 1] as string]
        const id = formatKeyPath(arrayPath)
        const index = arrayCounts.get(id) ?? 0
        arrayCounts.set(id, index + 1)
        table = [...arrayPath, index]
      } else {
        table = concrete(keys)
      }
      record(table, where)
    } else {
      const keys = readKey()
      if (keys.length === 0) break
      skipSpaces()
      if (at() !== '=') break
      advance()
      record([...table, ...keys], where)
      readValue([...table, ...keys])
    }
    skipSpaces()
    skipComment()
    while (pos < source.length && at() !== '\n') advance()
  }
  return lines
}

/**
 * The line that defines `path`, or the nearest enclosing key or table that is written down (a
 * missing key is reported where its table is); undefined when not even the first key is.
 */
export function lineOf (lines: Map<string, number>, path: KeyPath): number | undefined {
  for (let n = path.length; n > 0; n--) {
    const found = lines.get(formatKeyPath(path.slice(0, n)))
    if (found !== undefined) return found
  }
  return undefined
}
