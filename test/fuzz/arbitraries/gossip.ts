import fc from 'fast-check'
import { hlcEncode } from '../../../src/gossip/hlc.js'
import { TABLES } from '../../../src/gossip/rows.js'
import { ALIVE, DEAD, LEFT, SUSPECT } from '../../../src/gossip/swim-messages.js'
import { machineConfig, type MessageShape } from './envelopes.js'
import { hostileRaw, jsonish, RawValue, type HostileOpts } from './hostile-values.js'

/** Whom gossip may name: the target (lies about itself it must refute) and a few hosts that do not exist. */
export interface GossipIds {
  target: string
  /** The driver's own id: it owns rows, and is never accused (it would be cut off). */
  self: string
  fakes: readonly string[]
}

/** A value a peer's row `data` could be: a well-formed row of some table, near misses, or a hostile value. */
function rowData (opts: HostileOpts): fc.Arbitrary<unknown> {
  const host = fc.record({ id: fc.constant('0'.repeat(64)), name: fc.string({ maxLength: 20 }), region: fc.constant('here'), addresses: fc.constant([]), cpusFree: fc.nat(64), memoryFreeMb: fc.nat(1 << 16), version: fc.constant('fuzz') })
  const machine = fc.record({ id: fc.constant('00000000000000'), app: fc.constant('fuzz'), host: fc.constant('0'.repeat(64)), state: fc.constantFrom('started', 'stopped', 'x'.repeat(40)), configVersion: fc.nat(), health: fc.constant('ok') })
  const hostile = hostileRaw(opts).map(b => new RawValue(b))
  // issue 13: extra properties carrying a deep or extension-typed value got past the row schemas into the store.
  const withExtra = fc.tuple(fc.oneof(host, machine, machineConfig), fc.oneof(jsonish(), hostile)).map(([d, extra]) => ({ ...d, extra }))
  return fc.oneof(host, machine, withExtra, jsonish(), hostile)
}

const version = fc.oneof(
  fc.integer({ min: -5_000, max: 5_000 }).map(d => hlcEncode(Date.now() + d, 0)),
  fc.integer({ min: 1, max: 1000 }),
  fc.constantFrom(0, -1, Number.MAX_SAFE_INTEGER, 1.5, hlcEncode(Date.now() + 3_600_000, 0)))

/** A replicated row as peers send it, owned by the driver, the target or a stranger. */
export function gossipRow (ids: GossipIds, opts: HostileOpts = {}): fc.Arbitrary<unknown> {
  return fc.record({
    table: fc.oneof({ arbitrary: fc.constantFrom(...TABLES), weight: 8 }, { arbitrary: fc.constantFrom('nope', '__proto__'), weight: 1 }),
    key: fc.oneof({ arbitrary: fc.nat(31).map(n => `fuzz-${n}`), weight: 8 }, { arbitrary: fc.constantFrom('', 'k'.repeat(257)), weight: 1 }),
    owner: fc.constantFrom(ids.self, ids.self, ids.target, ...ids.fakes),
    version,
    deleted: fc.boolean(),
    data: fc.oneof(rowData(opts), fc.constant(null)),
    extra: fc.option(jsonish(), { nil: undefined })
  }, { requiredKeys: ['table', 'key', 'owner', 'version', 'deleted', 'data'] })
}

/** A SWIM membership update about the target or a stranger, never about the driver or the real peers. */
function update (ids: GossipIds): fc.Arbitrary<unknown> {
  return fc.record({
    k: fc.constantFrom(ALIVE, SUSPECT, DEAD, LEFT, 4, -1),
    id: fc.constantFrom(ids.target, ...ids.fakes),
    inc: fc.oneof(fc.nat(10), fc.constant(Math.floor(Date.now() / 1000)), fc.constantFrom(2 ** 31, -1)),
    by: fc.option(fc.constantFrom(ids.target, ...ids.fakes), { nil: undefined }),
    meta: fc.option(fc.record({ name: fc.string({ maxLength: 130 }), region: fc.string({ maxLength: 10 }), addresses: fc.array(fc.constant('127.0.0.1:1'), { maxLength: 20 }), version: fc.constant('fuzz') }), { nil: undefined })
  }, { requiredKeys: ['k', 'id', 'inc'] })
}

/** Gossip between hosts: SWIM messages with piggybacked updates and rows, anti-entropy digests, entries, wants and rows. */
export function gossipShapes (ids: GossipIds, opts: HostileOpts = {}): MessageShape[] {
  const piggy = {
    u: fc.array(update(ids), { maxLength: 70 }),
    x: fc.array(gossipRow(ids, opts), { maxLength: 8 })
  }
  const seq = fc.oneof(fc.nat(1_000_000), fc.constantFrom(-1, 2 ** 53))
  const entry = fc.tuple(fc.constantFrom(...TABLES, 'nope'), fc.nat(40).map(n => `fuzz-${n}`), version, fc.constantFrom(ids.self, ids.target, ...ids.fakes))
  const M = '/agent/membership'
  return [
    { type: 'gossip.ping', to: M, body: fc.record({ seq, target: fc.constantFrom(ids.target, ...ids.fakes), ...piggy }, { requiredKeys: ['seq', 'target'] }) },
    { type: 'gossip.ack', to: M, body: fc.record({ seq, ...piggy }, { requiredKeys: ['seq'] }) },
    { type: 'gossip.ping-req', to: M, body: fc.record({ seq, target: fc.constantFrom(ids.target, ...ids.fakes), ...piggy }, { requiredKeys: ['seq', 'target'] }) },
    { type: 'gossip.nack', to: M, body: fc.record({ seq }) },
    { type: 'gossip.gossip', to: M, body: fc.record(piggy, { requiredKeys: [] }) },
    { type: 'gossip.sync', to: M, body: fc.record({ members: fc.array(update(ids), { maxLength: 40 }), reply: fc.boolean() }) },
    { type: 'gossip.ae-digest', to: M, body: fc.record({ digest: fc.array(fc.integer(), { maxLength: 300 }) }) },
    { type: 'gossip.ae-entries', to: M, body: fc.record({ buckets: fc.array(fc.nat(5000), { maxLength: 64 }), entries: fc.array(entry, { maxLength: 64 }) }) },
    { type: 'gossip.ae-want', to: M, body: fc.record({ keys: fc.array(fc.tuple(fc.constantFrom(...TABLES), fc.nat(40).map(n => `fuzz-${n}`)), { maxLength: 64 }) }) },
    { type: 'gossip.ae-rows', to: M, body: fc.record({ rows: fc.array(gossipRow(ids, opts), { maxLength: 80 }) }) }
  ]
}
