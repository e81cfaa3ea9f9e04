import fc from 'fast-check'
import { PROTOCOL_VERSION } from '../../../src/codec/envelope.js'
import { TABLES } from '../../../src/gossip/rows.js'
import { fakeHostId, hostileRaw, HOSTILE_KEYS, jsonish, pack, packDeep, rawArray, RawValue, type HostileOpts, type Raw } from './hostile-values.js'

/** One actor message as a case: the payload of a session data frame, and what the target owes for it. */
export interface EnvelopeCase {
  payload: Raw
  id: number
  /** Well-formed with a replyTo: a `sys.reply` or `sys.error` with `re: id` must come back. */
  wantsAnswer: boolean
  /** A message no remote host may send: the answer must be `sys.error`. */
  mustRefuse: boolean
  label: string
}

/** A message the driver means to send: type, target path and a body arbitrary. */
export interface MessageShape {
  type: string
  to: string
  body: fc.Arbitrary<unknown>
}

export const REPLY_PATH = '/fuzz'
const machineId = fc.uint8Array({ minLength: 7, maxLength: 7 }).map(b => Buffer.from(b).toString('hex'))
const app = fc.oneof(fc.constantFrom('fuzz', 'a', 'fuzz-app'), fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,62}$/))
/** Image names no store has: a create that validates still fails before anything runs. */
const noImage = fc.oneof(fc.constantFrom('fuzz-no-such-image', 'sha256:' + '0'.repeat(64)), fc.stringMatching(/^[a-z]{1,20}$/).map(s => `fuzz-missing-${s}`))
export const machineConfig = fc.record({
  image: noImage,
  env: fc.option(fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), fc.oneof(fc.string({ maxLength: 20 }), fc.constant('a\u0000b')), { maxKeys: 3 }), { nil: undefined }),
  guest: fc.option(fc.record({ cpus: fc.integer({ min: 0, max: 20 }), memory_mb: fc.integer({ min: 0, max: 70000 }) }), { nil: undefined })
}, { requiredKeys: ['image'] })

/** Harmless message types with bodies that validate (or nearly): the target answers them. */
export const ANSWERED: readonly MessageShape[] = [
  { type: 'agent.ping', to: '/agent', body: fc.record({ seq: fc.integer(), payload: fc.string({ maxLength: 100 }) }, { requiredKeys: [] }) },
  { type: 'agent.info', to: '/agent', body: fc.constant({}) },
  { type: 'membership.list', to: '/agent/membership', body: fc.constant({}) },
  { type: 'membership.state', to: '/agent/membership', body: fc.record({ table: fc.constantFrom(...TABLES, 'nope'), includeDeleted: fc.boolean() }) },
  { type: 'machines.status', to: '/agent/machines', body: fc.constant({}) },
  { type: 'machines.list', to: '/agent/machines', body: fc.record({ app }, { requiredKeys: [] }) },
  { type: 'machines.create', to: '/agent/machines', body: fc.record({ app, config: machineConfig, skipLaunch: fc.boolean(), extra: jsonish() }, { requiredKeys: ['app', 'config'] }) },
  { type: 'machine.get', to: '/agent/machines/', body: fc.record({ app }) },
  { type: 'router.status', to: '/agent/router', body: fc.constant({}) },
  { type: 'router.routes', to: '/agent/router', body: fc.record({ app: fc.string({ maxLength: 70 }) }, { requiredKeys: [] }) },
  { type: 'wireguard.status', to: '/agent/wireguard', body: fc.constant({}) }
]

const UNKNOWN_TYPES = ['agent.explode', 'sys.reply', 'sys.error', 'gossip.', 'membership', ...HOSTILE_KEYS, 'a'.repeat(128), 'a'.repeat(129), ''] as const
const PATHS = ['/agent', '/agent/membership', '/agent/machines', '/agent/router', '/agent/wireguard', '/agent/nobody', '', '/', '/agent/../agent', '/agent/__proto__', '__proto__', 'x'.repeat(1025)] as const

/** Envelope fields: mostly right, sometimes wrong in type, range or size, sometimes hostile values. */
function field<T> (good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>, opts: HostileOpts, badWeight = 1): fc.Arbitrary<{ raw: Raw, ok: boolean }> {
  return fc.oneof(
    { arbitrary: good.map(v => ({ raw: pack(v), ok: true })), weight: 12 },
    { arbitrary: bad.map(v => ({ raw: pack(v), ok: false })), weight: badWeight },
    { arbitrary: hostileRaw(opts).map(raw => ({ raw, ok: false })), weight: badWeight })
}

/**
 * An envelope `[v, type, id, from, to, replyTo, re, body]` for `shape` (or an unknown type or
 * path), each field now and then wrong or hostile, the array now and then too long or short.
 */
export function envelopeCase (shapes: readonly MessageShape[], nextId: () => number, opts: HostileOpts & { mustRefuse?: boolean, fieldBadWeight?: number } = {}): fc.Arbitrary<EnvelopeCase> {
  const w = opts.fieldBadWeight ?? 1
  const shape = fc.constantFrom(...shapes).chain(s => fc.record({
    orig: fc.constant(s),
    type: fc.oneof({ arbitrary: fc.constant(s.type), weight: 10 }, { arbitrary: fc.constantFrom(...UNKNOWN_TYPES), weight: w }),
    to: fc.oneof({ arbitrary: s.to.endsWith('/') ? machineId.map(id => s.to + id) : fc.constant(s.to), weight: 10 }, { arbitrary: fc.constantFrom(...PATHS), weight: w }),
    body: fc.oneof({ arbitrary: s.body.map(b => ({ raw: packDeep(b), ok: !containsRaw(b) })), weight: 10 }, { arbitrary: jsonish().map(b => ({ raw: pack(b), ok: true })), weight: w }, { arbitrary: hostileRaw(opts).map(raw => ({ raw, ok: false })), weight: w })
  }))
  return fc.record({
    s: shape,
    v: field(fc.constant(PROTOCOL_VERSION), fc.constantFrom(0, 2, '1', null, 1.5), opts, w),
    from: field(fc.constantFrom('', '/agent/membership', '/fuzz'), fc.constantFrom(7, null, 'f'.repeat(1025)), opts, w),
    replyTo: field(fc.constantFrom(REPLY_PATH, REPLY_PATH, null), fc.constantFrom(3, 'r'.repeat(1025), false), opts, w),
    idBad: fc.oneof({ arbitrary: fc.constant(undefined), weight: 12 }, { arbitrary: fc.constantFrom(-0.5, 2 ** 60, 'id', null), weight: w }),
    re: field(fc.constant(null), fc.constantFrom(1, -1, 2 ** 60, 'x'), opts, w),
    arity: fc.oneof({ arbitrary: fc.constant(0), weight: 20 }, { arbitrary: fc.constantFrom(-1, 1, 100), weight: w })
  }).map(r => {
    const id = nextId()
    const items = [r.v.raw, pack(r.s.type), pack(r.idBad ?? id), r.from.raw, pack(r.s.to), r.replyTo.raw, r.re.raw, r.s.body.raw]
    const sized = r.arity < 0 ? items.slice(0, 7) : r.arity > 0 ? [...items, ...Array.from({ length: Math.min(r.arity, 8) }, () => pack(null))] : items
    // sys.reply / sys.error answer the target's own asks: nothing answers them.
    const typeOk = r.s.type.length > 0 && r.s.type.length <= 128 && !r.s.type.startsWith('sys.')
    const wellFormed = r.v.ok && r.from.ok && r.re.ok && r.s.body.ok && r.replyTo.ok && r.idBad === undefined && r.arity === 0 && typeOk && r.s.to.length <= 1024
    const hasReplyTo = r.replyTo.ok && r.replyTo.raw.equals(pack(REPLY_PATH))
    return { payload: rawArray(sized), id, wantsAnswer: wellFormed && hasReplyTo, mustRefuse: opts.mustRefuse === true && wellFormed && r.s.type === r.s.orig.type && r.s.to.startsWith(r.s.orig.to), label: r.s.orig.type }
  })
}

function containsRaw (v: unknown): boolean {
  if (v instanceof RawValue) return true
  if (Array.isArray(v)) return v.some(containsRaw)
  if (v !== null && typeof v === 'object') return Object.values(v).some(containsRaw)
  return false
}

/** Host ids a generator may name in lies: never the driver's own (it would be declared dead and cut off). */
export function hostIdIn (known: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(fc.constantFrom(...known), fakeHostId)
}
