/** How deeply a request body's JSON may nest: a machine config needs about 8 levels. */
export const MAX_JSON_DEPTH = 32

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACKET = 0x5b
const OPEN_BRACE = 0x7b
const CLOSE_BRACKET = 0x5d
const CLOSE_BRACE = 0x7d

/**
 * Whether the JSON text in `bytes` nests no deeper than `maxDepth` arrays and objects, read in
 * one pass over the bytes (strings and their escapes skipped) before `JSON.parse` builds
 * anything: a 200 KB body of 100,000 nested arrays took the parser and then the collector
 * ~25 ms of the actors' loop. Says nothing else about validity (the parser judges that).
 */
export function jsonDepthWithin (bytes: Uint8Array, maxDepth: number = MAX_JSON_DEPTH): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    if (inString) {
      if (b === BACKSLASH) i++
      else if (b === QUOTE) inString = false
    } else if (b === QUOTE) {
      inString = true
    } else if (b === OPEN_BRACKET || b === OPEN_BRACE) {
      if (++depth > maxDepth) return false
    } else if (b === CLOSE_BRACKET || b === CLOSE_BRACE) {
      depth--
    }
  }
  return true
}
