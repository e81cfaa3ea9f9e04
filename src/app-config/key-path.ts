/** A key path into a TOML document: table keys and array indices, e.g. `['services', 0, 'ports']`. */
export type KeyPath = ReadonlyArray<string | number>

const BARE = /^[A-Za-z0-9_-]+$/

/** `services[0].ports[1].handlers`; keys that are not bare TOML keys are quoted: `env["a.b"]`. */
export function formatKeyPath (path: KeyPath): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (BARE.test(seg)) out += out === '' ? seg : `.${seg}`
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}

/**
 * A JSON pointer (as TypeBox reports errors: `/services/0/ports`) as a key path, read against
 * the document so that a numeric table key stays a key and an array index becomes a number.
 */
export function keyPathFromPointer (pointer: string, document: unknown): Array<string | number> {
  if (pointer === '' || pointer === '/') return []
  const out: Array<string | number> = []
  let node: unknown = document
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (Array.isArray(node) && /^[0-9]+$/.test(seg)) {
      out.push(Number(seg))
      node = node[Number(seg)]
    } else {
      out.push(seg)
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[seg] : undefined
    }
  }
  return out
}
