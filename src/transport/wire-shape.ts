/**
 * Shape checks for the frames a connection exchanges before admission (the hello, a refusal,
 * the mesh hellos), written out instead of compiled from TypeBox schemas: they run in the
 * transport thread, which has no other use for TypeBox, and loading it there (~220 modules)
 * took ~2 MB of the thread's heap for good. Each check accepts exactly what the TypeBox schema
 * it replaced accepted (test/transport/wire-shape.test.ts compares them on generated values):
 * an object is any non-null, non-array object, its named properties are looked up as
 * `value[key]`, and properties it does not name are allowed.
 */

/** Where a value first departs from its shape (a JSON-pointer-like path) and how. */
export interface ShapeFault {
  path: string
  message: string
}

/** A check of an untrusted value: `undefined` when it fits, else its first fault. */
export type ShapeCheck = (value: unknown, path: string) => ShapeFault | undefined

const fault = (path: string, message: string): ShapeFault => ({ path, message })

export function literal (expected: string | number | boolean): ShapeCheck {
  return (v, path) => v === expected ? undefined : fault(path, `expected ${JSON.stringify(expected)}`)
}

/** A string of at most `maxLength` UTF-16 units, matching `pattern` if one is given (no `g` flag: `test` keeps no state). */
export function string (opts: { maxLength?: number, pattern?: RegExp } = {}): ShapeCheck {
  const { maxLength, pattern } = opts
  return (v, path) => {
    if (typeof v !== 'string') return fault(path, 'expected a string')
    if (maxLength !== undefined && v.length > maxLength) return fault(path, `expected at most ${maxLength} characters`)
    if (pattern !== undefined && !pattern.test(v)) return fault(path, `expected to match ${pattern.source}`)
    return undefined
  }
}

/** A Uint8Array (a Buffer is one) of exactly `length` bytes. */
export function bytesOf (length: number): ShapeCheck {
  return (v, path) => v instanceof Uint8Array && v.length === length ? undefined : fault(path, `expected ${length} bytes`)
}

export function integer (minimum: number, maximum: number): ShapeCheck {
  return (v, path) => Number.isInteger(v) && (v as number) >= minimum && (v as number) <= maximum
    ? undefined
    : fault(path, `expected an integer from ${minimum} to ${maximum}`)
}

export function arrayOf (item: ShapeCheck, maxItems: number): ShapeCheck {
  return (v, path) => {
    if (!Array.isArray(v)) return fault(path, 'expected an array')
    if (v.length > maxItems) return fault(path, `expected at most ${maxItems} items`)
    let i = 0
    for (const x of v) {
      const f = item(x, `${path}/${i++}`)
      if (f !== undefined) return f
    }
    return undefined
  }
}

/** An object with the `required` properties and, when present (not `undefined`), the `optional` ones. */
export function object (required: Record<string, ShapeCheck>, optional: Record<string, ShapeCheck> = {}): ShapeCheck {
  const req = Object.entries(required)
  const opt = Object.entries(optional)
  return (v, path) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fault(path, 'expected an object')
    const o = v as Record<string, unknown>
    for (const [k, check] of req) {
      const f = check(o[k], `${path}/${k}`)
      if (f !== undefined) return f
    }
    for (const [k, check] of opt) {
      if (o[k] === undefined) continue
      const f = check(o[k], `${path}/${k}`)
      if (f !== undefined) return f
    }
    return undefined
  }
}

/** The first fault of `value` against `check` (at the root path ''), or `undefined`. */
export function shapeFault (check: ShapeCheck, value: unknown): ShapeFault | undefined {
  return check(value, '')
}
