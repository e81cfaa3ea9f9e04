import type { TObject, TSchema } from '@sinclair/typebox'
import { HELPERS, readString } from './flat-body-io.js'

/**
 * TypeBox's markers of a schema's kind and of an optional property, which it registers with
 * `Symbol.for`: named here so that this module (which the transport thread loads through the
 * envelope's version list) does not load TypeBox itself, ~2.5 MB of that thread's heap.
 */
export const KIND = Symbol.for('TypeBox.Kind')
export const OPTIONAL = Symbol.for('TypeBox.Optional')

/** What a field of a flat body holds, as msgpack writes it. */
type FieldKind = 'number' | 'string' | 'boolean' | 'null'

interface Field {
  key: string
  kind: FieldKind
  optional: boolean
}

/** Bytes of the slab `encode` cuts bodies from, shared by every codec (msgpackr's own buffers are 8 KiB). */
const SLAB_BYTES = 16 * 1024
let slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
let slabUsed = 0

/** Longest key a flat body may have (a msgpack fixstr). */
const MAX_KEY_BYTES = 31
/** Most fields a flat body may have (a msgpack fixmap, `type` included). */
const MAX_FIELDS = 15

/**
 * Encoder and decoder of one message type whose body is flat: a map of `type` and fields that
 * are numbers, ASCII strings, booleans or null, nothing nested. Generated from the type's schema
 * with monomorphic property reads, where msgpackr's generic walk slows down as an agent's many
 * message shapes make its property accesses megamorphic (a body of three fields: ~880 ns with
 * msgpackr and its output scan in a warmed-up agent, ~220 ns generated). Both are exact stand-ins
 * for msgpackr on what they accept and hand anything else back (null, undefined), so what goes on
 * the wire and what comes off it does not depend on whether a host has the type compiled.
 */
export interface FlatBodyCodec {
  readonly type: string
  /**
   * The bytes msgpackr writes for `body`, after `reserve` free bytes; null (use msgpackr) unless
   * `body` is a plain object whose keys are `type` then fields of this type in schema order (any
   * optional ones left out), each value of its field's kind, strings ASCII, and fits a slab.
   */
  encode: (body: unknown, reserve: number) => Buffer | null
  /**
   * As `encode`, in place: `reserve` free bytes then the body, written at `bytes[at, ...)`.
   * Returns where the body ends; -1 where `encode` says null (what was written from `at` on is
   * not a body); -2 when it might not fit before the end of `bytes` (nothing written: encode it
   * elsewhere).
   */
  encodeTo: (body: unknown, reserve: number, bytes: Uint8Array, at: number) => number
  /**
   * Reads the `entries` map entries after `type` from `bytes[pos, end)`: the value msgpackr
   * decodes from them, or undefined (use msgpackr) unless they are this type's fields in schema
   * order, each of its kind, strings ASCII, ending exactly at `end`. Nothing is validated beyond
   * that: the schema's checks still run.
   */
  decode: (bytes: Uint8Array, pos: number, end: number, entries: number, type: string) => Record<string, unknown> | undefined
  /** The field keys in schema order (`type` not included). */
  readonly keys: readonly string[]
  /**
   * For a type without optional fields, as `encodeTo` but writing the fields' values alone, in
   * schema order (no map header, no keys, no `type`): a templated envelope's body
   * (envelope-templates.ts), read with `decodeValues`. Null for other types.
   */
  encodeValuesTo: ((body: unknown, reserve: number, bytes: Uint8Array, at: number) => number) | null
  /** Reads what `encodeValuesTo` writes (made on first use); null where that is null. */
  readonly decodeValues: ValuesDecoder | null
}

/** The codec of a message type whose body schema is flat; null for any other schema. */
export function compileFlatBody (type: string, body: TObject): FlatBodyCodec | null {
  if (!isAsciiKey(type, 255)) return null
  const fields = flatFields(body)
  if (fields === null) return null
  const keys = fields.map(f => f.key)
  const encodeTo = generateEncoder(fields, false)(HELPERS, keys) as FlatBodyCodec['encodeTo']
  const encodeValuesTo = fields.some(f => f.optional) ? null : generateEncoder(fields, true)(HELPERS, keys) as NonNullable<FlatBodyCodec['encodeValuesTo']>
  const decode = generateDecoder(fields)(HELPERS) as FlatBodyCodec['decode']
  const encode = (body: unknown, reserve: number): Buffer | null => {
    let start = slabUsed
    let end = encodeTo(body, reserve, slab, start)
    if (end === -2) {
      slab = Buffer.allocUnsafeSlow(SLAB_BYTES)
      slabUsed = start = 0
      end = encodeTo(body, reserve, slab, start)
    }
    if (end < 0) return null
    slabUsed = end
    return Buffer.from(slab.buffer, slab.byteOffset + start, end - start)
  }
  let values: ValuesDecoder | null | undefined
  return {
    type,
    encode,
    encodeTo,
    decode,
    keys,
    encodeValuesTo,
    get decodeValues () {
      if (values === undefined) values = encodeValuesTo === null ? null : compileValuesDecoder(keys)
      return values
    }
  }
}

/**
 * Reads a body written by `encodeValuesTo` for these keys (a flat type's, checked by
 * `flatFields`): the values alone, each a number, ASCII string, boolean or null, ending exactly
 * at `end`; returns the message (`type` first, then the keys in order) or undefined. Generated,
 * so a template's messages share one shape.
 */
function compileValuesDecoder (keys: readonly string[]): ValuesDecoder {
  const lines = ['return function decodeValues (bytes, p, end, type) {', '  const o = { type }']
  for (const k of keys) lines.push('  p = H.readValue(bytes, p, end)', '  if (p < 0) return undefined', `  o[${JSON.stringify(k)}] = H.value`)
  lines.push('  if (p !== end) return undefined', '  return o', '}')
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return (new Function('H', lines.join('\n')) as (h: typeof HELPERS) => ValuesDecoder)(HELPERS)
}

/** A templated body's reader (`FlatBodyCodec.decodeValues`). */
export type ValuesDecoder = (bytes: Uint8Array, p: number, end: number, type: string) => Record<string, unknown> | undefined

/** A signature of what the codec of `body` reads and writes (two schemas with one signature share a codec); null when not flat. */
export function flatSignature (body: TObject): string | null {
  const fields = flatFields(body)
  return fields === null ? null : fields.map(f => `${f.key}:${f.kind}${f.optional ? '?' : ''}`).join(',')
}

/**
 * Reads the start of a flat body at `bytes[pos, end)`: a fixmap whose first key is `type` with a
 * string value. Fills `out` with the type, where its fields begin and how many follow, and says
 * true; false when the bytes start otherwise (then they are for msgpackr).
 */
export function readFlatHead (bytes: Uint8Array, pos: number, end: number, out: { type: string, pos: number, entries: number }): boolean {
  if (end - pos < 7) return false
  const head = bytes[pos] as number
  if ((head & 0xf0) !== 0x80 || head === 0x80) return false
  if (bytes[pos + 1] !== 0xa4 || bytes[pos + 2] !== 0x74 || bytes[pos + 3] !== 0x79 || bytes[pos + 4] !== 0x70 || bytes[pos + 5] !== 0x65) return false
  const at = readString(bytes, pos + 6, end)
  if (at < 0) return false
  out.type = HELPERS.value as string
  out.pos = at
  out.entries = (head & 0x0f) - 1
  return true
}

function flatFields (body: TObject): Field[] | null {
  if (marker(body, KIND) !== 'Object' || body.patternProperties !== undefined) return null
  const fields: Field[] = []
  for (const [key, schema] of Object.entries(body.properties as Record<string, TSchema>)) {
    if (key === 'type' || key === '__proto__' || !isAsciiKey(key, MAX_KEY_BYTES)) return null
    const kind = fieldKind(schema)
    if (kind === null) return null
    fields.push({ key, kind, optional: marker(schema, OPTIONAL) === 'Optional' })
  }
  return fields.length + 1 <= MAX_FIELDS ? fields : null
}

function fieldKind (schema: TSchema): FieldKind | null {
  switch (marker(schema, KIND)) {
    case 'Integer': case 'Number': return 'number'
    case 'String': return 'string'
    case 'Boolean': return 'boolean'
    case 'Null': return 'null'
    case 'Literal': {
      const c = (schema as { const?: unknown }).const
      return typeof c === 'number' ? 'number' : typeof c === 'string' ? 'string' : typeof c === 'boolean' ? 'boolean' : null
    }
    default: return null
  }
}

function marker (schema: TSchema, key: symbol): unknown {
  return (schema as unknown as Record<symbol, unknown>)[key]
}

function isAsciiKey (s: string, max: number): boolean {
  if (s.length === 0 || s.length > max) return false
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

function encodeKey (key: string): Uint8Array {
  const out = new Uint8Array(1 + key.length)
  out[0] = 0xa0 | key.length
  for (let i = 0; i < key.length; i++) out[1 + i] = key.charCodeAt(i)
  return out
}

/** Worst-case bytes of a value of `kind` (a string's are added from its length). */
const MAX_VALUE_BYTES: Record<FieldKind, number> = { number: 9, string: 5, boolean: 1, null: 1 }

const TYPE_CHECK: Record<FieldKind, (v: string) => string> = {
  number: v => `typeof ${v} !== 'number'`,
  string: v => `typeof ${v} !== 'string'`,
  boolean: v => `typeof ${v} !== 'boolean'`,
  null: v => `${v} !== null`
}

const WRITE: Record<FieldKind, (v: string) => string> = {
  number: v => `p = H.num(b, p, ${v})`,
  string: v => `p = H.str(b, p, ${v}); if (p < 0) return -1`,
  boolean: v => `b[p++] = ${v} ? 0xc3 : 0xc2`,
  null: () => 'b[p++] = 0xc0'
}

const READ: Record<FieldKind, string> = {
  number: 'p = H.readNumber(bytes, p, end)',
  string: 'p = H.readString(bytes, p, end)',
  boolean: 'p = H.readBoolean(bytes, p, end)',
  null: 'p = H.readNull(bytes, p, end)'
}

// The generated code reads properties by name (a named load per field, monomorphic per type); names
// are written with JSON.stringify and are ASCII, and no value is ever evaluated.
function generateEncoder (fields: Field[], valuesOnly: boolean): (...args: unknown[]) => unknown {
  const lines: string[] = [
    'return function encodeTo (v, reserve, b, at) {',
    '  if (v === null || typeof v !== "object" || Object.getPrototypeOf(v) !== Object.prototype) return -1',
    '  let n = 0',
    '  let j = 0',
    '  for (const k in v) {',
    '    if (n++ === 0) { if (k !== "type") return -1; continue }',
    '    while (j < keys.length && keys[j] !== k) { if (!optional[j]) return -1; j++ }',
    '    if (j++ === keys.length) return -1',
    '  }',
    `  const t = v.type`,
    '  if (typeof t !== "string") return -1',
    `  let size = reserve + ${1 + 5 + 5 + fields.reduce((s, f) => s + 1 + f.key.length + MAX_VALUE_BYTES[f.kind], 0)} + t.length`,
    '  let count = 1'
  ]
  fields.forEach((f, i) => {
    const v = `v${i}`
    lines.push(`  const ${v} = v[${JSON.stringify(f.key)}]`)
    const check = `${TYPE_CHECK[f.kind](v)}) return -1`
    const grow = f.kind === 'string' ? `; size += ${v}.length` : ''
    if (f.optional) lines.push(`  if (${v} !== undefined) { if (${check}; count++${grow} }`)
    else lines.push(`  if (${check}`, `  count++${grow}`)
  })
  lines.push(
    '  if (count !== n) return -1',
    '  if (at + size > b.length) return -2',
    '  let p = at + reserve',
    ...(valuesOnly
      ? []
      : [
          '  b[p++] = 0x80 | count',
          `  ${unrolled('type')}`,
          '  p = H.str(b, p, t)',
          '  if (p < 0) return -1'
        ])
  )
  fields.forEach((f, i) => {
    const body = `${valuesOnly ? '' : `${unrolled(f.key)} `}${WRITE[f.kind](`v${i}`)}`
    lines.push(f.optional ? `  if (v${i} !== undefined) { ${body} }` : `  ${body}`)
  })
  lines.push('  return p', '}')
  const optional = JSON.stringify(fields.map(f => f.optional))
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('H', 'keys', `const optional = ${optional}\n${lines.join('\n')}`) as (...args: unknown[]) => unknown
}

/** Code that writes `key` (ASCII, a fixstr) at `b[p]` byte by byte and moves `p` past it. */
function unrolled (key: string): string {
  const bytes = encodeKey(key)
  return `${[...bytes].map((x, i) => `b[p${i === 0 ? '' : ` + ${i}`}] = ${x};`).join(' ')} p += ${bytes.length};`
}

/** Code that is true when `bytes[p]` on holds `key` as a fixstr, within `end`. */
function keyTest (key: string): string {
  const bytes = encodeKey(key)
  return `p + ${bytes.length} <= end && ${[...bytes].map((x, i) => `bytes[p${i === 0 ? '' : ` + ${i}`}] === ${x}`).join(' && ')}`
}

function generateDecoder (fields: Field[]): (...args: unknown[]) => unknown {
  const lines: string[] = ['return function decode (bytes, p, end, n, type) {', '  const o = { type }']
  fields.forEach((f, i) => {
    const key = JSON.stringify(f.key)
    lines.push(
      `  if (n > 0 && ${keyTest(f.key)}) {`,
      `    p += ${1 + f.key.length}`,
      '    n--',
      `    ${READ[f.kind]}`,
      '    if (p < 0) return undefined',
      `    o[${key}] = H.value`,
      f.optional ? '  }' : '  } else return undefined'
    )
  })
  lines.push('  if (n !== 0 || p !== end) return undefined', '  return o', '}')
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('H', lines.join('\n')) as (...args: unknown[]) => unknown
}
