import test from 'ava'
import type { TSchema } from '@sinclair/typebox'
import { TABLES, TABLE_SCHEMAS } from '../../src/gossip/rows.js'

/** Every place in `schema` that leaves a row open or unbounded, as JSON pointers with the reason. */
function openings (schema: TSchema, at: string): string[] {
  const out: string[] = []
  const s = schema as Record<string, unknown>
  if (s.type === 'object') {
    if (s.additionalProperties !== false) out.push(`${at}: object without additionalProperties: false`)
    if (s.patternProperties !== undefined && s.maxProperties === undefined) out.push(`${at}: map without maxProperties`)
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, TSchema>)) out.push(...openings(v, `${at}/${k}`))
    for (const v of Object.values((s.patternProperties ?? {}) as Record<string, TSchema>)) out.push(...openings(v, `${at}/*`))
  }
  if (s.type === 'array') {
    if (s.maxItems === undefined) out.push(`${at}: array without maxItems`)
    out.push(...openings(s.items as TSchema, `${at}/[]`))
  }
  if (s.type === 'string' && s.const === undefined && s.maxLength === undefined && !(typeof s.pattern === 'string' && /^\^[^*+]*\$$/.test(s.pattern.replace(/\[[^\]]*\]/g, 'c')))) {
    out.push(`${at}: string without maxLength or a bounded pattern`)
  }
  for (const v of (s.anyOf ?? []) as TSchema[]) out.push(...openings(v, at))
  return out
}

test('every table\'s row schema is closed at every object level and bounded in every string, array and map', t => {
  for (const table of TABLES) t.deepEqual(openings(TABLE_SCHEMAS[table], table), [], table)
})
