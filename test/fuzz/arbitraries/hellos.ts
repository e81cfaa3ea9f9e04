import fc from 'fast-check'
import { HELLO_VERSION } from '../../../src/transport/hello.js'
import { MESH_HELLO } from '../../../src/transport/mesh-hello.js'
import { frameOf, mutated, streamBytes, type StreamBytes } from './frames.js'
import { fakeHostId, goodOrHostile, hostileRaw, pack, rawMap, type HostileOpts, type Raw } from './hostile-values.js'

const bytes = (n: number): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength: n, maxLength: n }).map(b => Buffer.from(b))

/** A hyperswarm hello with the right shape and a proof that cannot verify (no secret), fields now and then hostile. */
function helloRaw (cluster: string, opts: HostileOpts): fc.Arbitrary<Raw> {
  return fc.record({
    hello: goodOrHostile(fc.constantFrom(HELLO_VERSION, 0, 2), 1, opts),
    cluster: goodOrHostile(fc.constantFrom(cluster, 'other', ''), 1, opts),
    hostId: goodOrHostile(fakeHostId, 1, opts),
    name: goodOrHostile(fc.string({ maxLength: 140 }), 1, opts),
    version: goodOrHostile(fc.string({ maxLength: 70 }), 1, opts),
    addresses: goodOrHostile(fc.array(fc.string({ maxLength: 30 }), { maxLength: 40 }), 1, opts),
    proof: goodOrHostile(fc.oneof(bytes(32), bytes(31), bytes(0)), 1, opts),
    extra: fc.option(hostileRaw(opts), { nil: undefined })
  }).map(h => rawMap(Object.entries(h).filter((e): e is [string, Raw] => e[1] !== undefined)))
}

/** A mesh (WireGuard path) hello sent where a hyperswarm hello is due: it must be refused like any other. */
function meshHelloRaw (opts: HostileOpts): fc.Arbitrary<Raw> {
  return fc.record({
    m: goodOrHostile(fc.constantFrom(MESH_HELLO, 'roost-mesh/2'), 1, opts),
    host: goodOrHostile(fakeHostId, 1, opts),
    to: goodOrHostile(fakeHostId, 1, opts),
    nonce: goodOrHostile(bytes(16), 1, opts),
    proof: goodOrHostile(bytes(32), 1, opts)
  }).map(h => rawMap(Object.entries(h)))
}

/**
 * What an outsider (no secret) writes first on a new connection: hellos, mesh hellos, refusals,
 * mutated ones, hostile values, oversized, truncated and unframed bytes.
 */
export function helloStage (cluster: string, maxFrameBytes: number, opts: HostileOpts = {}): fc.Arbitrary<StreamBytes> {
  const shaped = fc.oneof(
    { arbitrary: helloRaw(cluster, opts), weight: 4 },
    { arbitrary: meshHelloRaw(opts), weight: 2 },
    { arbitrary: fc.record({ refused: fc.string({ maxLength: 20 }), message: fc.string({ maxLength: 20 }) }).map(pack), weight: 1 }
  )
  const framed = fc.oneof(shaped, shaped.chain(mutated)).map((p): StreamBytes => ({ bytes: frameOf(p), aligned: true, kind: 'frame' }))
  return fc.oneof({ arbitrary: framed, weight: 6 }, { arbitrary: streamBytes(maxFrameBytes, { ...opts, allowUnaligned: true }), weight: 4 })
}
