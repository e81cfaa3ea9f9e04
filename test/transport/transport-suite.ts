import test, { type ExecutionContext } from 'ava'
import { randomBytes } from 'node:crypto'
import { UnknownHostError } from '../../src/errors/errors.js'
import { RoostError } from '../../src/errors/roost-error.js'
import type { Transport } from '../../src/transport/transport.js'
import { retry } from '../helpers/retry.js'

/** What a transport implementation provides to the compliance suite. */
export interface TransportHarness {
  /** A transport for a new host on the test's network, not started. The suite stops it. */
  create: () => Transport
}

/**
 * Builds the test's network (a memory network, a DHT bootstrap…) and returns the harness. It
 * registers its own teardown; the suite's transports are registered later, so (teardowns run
 * last-in first-out) they are stopped first, one after another, and the network last.
 */
export type HarnessSetup = (t: ExecutionContext) => Promise<TransportHarness>

export interface SuiteOptions {
  /** Run the suite's tests one at a time (for transports with real sockets). */
  serial?: boolean
}

/** Frames received by a transport, in arrival order. */
export interface Received { from: string, payload: Buffer }

export function collectFrames (tr: Transport): Received[] {
  const got: Received[] = []
  tr.on('frame', (from, payload) => { got.push({ from, payload: Buffer.from(payload) }) })
  return got
}

/** Sends and resolves with the failure, or never (the caller bounds the wait). */
export async function sendFailure (tr: Transport, host: string, payload: Uint8Array): Promise<Error> {
  return await new Promise(resolve => { tr.send(host, payload, resolve) })
}

async function boundedFailure (tr: Transport, host: string, payload: Uint8Array): Promise<Error> {
  let failure: Error | undefined
  tr.send(host, payload, (err) => { failure = err })
  // A generous bound that only catches a hang; it is not a timing assertion.
  return await retry(() => failure, { timeoutMs: 15_000, what: 'send failure' })
}

export function transportComplianceSuite (label: string, setup: HarnessSetup, opts: SuiteOptions = {}): void {
  const run = opts.serial === true ? test.serial : test

  const started = async (t: ExecutionContext, h: TransportHarness): Promise<Transport> => {
    const tr = h.create()
    t.teardown(async () => { await tr.stop() })
    await tr.start()
    return tr
  }

  run(`${label}: start twice is idempotent`, async t => {
    const h = await setup(t)
    const a = h.create()
    t.teardown(async () => { await a.stop() })
    const id = a.hostId
    await a.start()
    const addresses = a.addresses()
    await a.start()
    await Promise.all([a.start(), a.start()])
    t.is(a.hostId, id)
    t.deepEqual(a.addresses(), addresses)
    // Still one working host: it can receive.
    const b = await started(t, h)
    const got = collectFrames(a)
    b.send(a.hostId, Buffer.from('still works'), (err) => { t.fail(err.message) })
    await retry(() => got.length === 1, { what: 'frame after double start' })
    t.is(got[0]?.payload.toString(), 'still works')
  })

  run(`${label}: concurrent starts are idempotent`, async t => {
    const h = await setup(t)
    const a = h.create()
    t.teardown(async () => { await a.stop() })
    await Promise.all([a.start(), a.start(), a.start()])
    const b = await started(t, h)
    const got = collectFrames(b)
    a.send(b.hostId, Buffer.from('x'), (err) => { t.fail(err.message) })
    await retry(() => got.length === 1, { what: 'frame' })
    t.is(got[0]?.from, a.hostId)
  })

  run(`${label}: stop before start, and stop twice, are fine`, async t => {
    const h = await setup(t)
    const a = h.create()
    t.teardown(async () => { await a.stop() })
    await t.notThrowsAsync(a.stop())
    await t.notThrowsAsync(a.stop())
    await a.start()
    await t.notThrowsAsync(a.stop())
    await t.notThrowsAsync(a.stop())
    await t.notThrowsAsync(Promise.all([a.stop(), a.stop()]))
  })

  run(`${label}: send when not started fails with a typed error`, async t => {
    const h = await setup(t)
    const a = h.create()
    t.teardown(async () => { await a.stop() })
    const b = await started(t, h)
    const before = await boundedFailure(a, b.hostId, Buffer.from('x'))
    t.true(before instanceof RoostError, String(before))
    await a.start()
    await a.stop()
    const after = await boundedFailure(a, b.hostId, Buffer.from('x'))
    t.true(after instanceof RoostError, String(after))
  })

  run(`${label}: frames are delivered in order between two hosts, both ways`, async t => {
    const h = await setup(t)
    const a = await started(t, h)
    const b = await started(t, h)
    t.not(a.hostId, b.hostId)
    const atB = collectFrames(b)
    const atA = collectFrames(a)
    const fail = (err: Error): void => { t.fail(`send failed: ${err.message}`) }

    // The first batch goes out while a connection may still be opening, the second over it.
    const first = Array.from({ length: 100 }, (_, i) => Buffer.from(`a→b ${i}`))
    const sizes = [0, 1, 1000, 100_000]
    const blobs = sizes.map(n => randomBytes(n))
    for (const p of [...first, ...blobs]) a.send(b.hostId, p, fail)
    await retry(() => atB.length === first.length + blobs.length, { what: 'first batch' })
    const second = Array.from({ length: 100 }, (_, i) => Buffer.from(`a→b again ${i}`))
    for (const p of second) a.send(b.hostId, p, fail)
    const back = Array.from({ length: 50 }, (_, i) => Buffer.from(`b→a ${i}`))
    for (const p of back) b.send(a.hostId, p, fail)

    await retry(() => atB.length === first.length + blobs.length + second.length && atA.length === back.length, { what: 'all frames' })
    t.deepEqual(atB.map(r => r.payload), [...first, ...blobs, ...second])
    t.deepEqual(atA.map(r => r.payload), back)
    t.true(atB.every(r => r.from === a.hostId))
    t.true(atA.every(r => r.from === b.hostId))
  })

  run(`${label}: send to an invalid host id calls onFailure with UnknownHostError`, async t => {
    const h = await setup(t)
    const a = await started(t, h)
    for (const bad of ['not-a-host', '', 'ZZ'.repeat(32)]) {
      const err = await boundedFailure(a, bad, Buffer.from('x'))
      t.true(err instanceof UnknownHostError, `${bad}: ${String(err)}`)
      t.is((err as RoostError).code, 'ERR_UNKNOWN_HOST')
    }
  })

  run(`${label}: send to an unknown host id calls onFailure with a typed error`, async t => {
    const h = await setup(t)
    const a = await started(t, h)
    const err = await boundedFailure(a, randomBytes(32).toString('hex'), Buffer.from('x'))
    t.true(err instanceof RoostError, String(err))
    t.true(['ERR_UNKNOWN_HOST', 'ERR_HOST_UNREACHABLE'].includes((err as RoostError).code), (err as RoostError).code)
  })

  run(`${label}: peers() lists the other host after discovery, never itself`, async t => {
    const h = await setup(t)
    const a = await started(t, h)
    const b = await started(t, h)
    const discovered: string[] = []
    a.on('discover', (id) => { discovered.push(id) })
    const peer = await retry(() => a.peers().find(p => p.hostId === b.hostId), { what: 'b in a.peers()' })
    t.is(peer.hostId, b.hostId)
    await retry(() => b.peers().some(p => p.hostId === a.hostId), { what: 'a in b.peers()' })
    t.false(a.peers().some(p => p.hostId === a.hostId))
    t.false(b.peers().some(p => p.hostId === b.hostId))
  })

  run(`${label}: the sender sees 'disconnect' when the other host stops`, async t => {
    const h = await setup(t)
    const a = await started(t, h)
    const b = await started(t, h)
    const atB = collectFrames(b)
    a.send(b.hostId, Buffer.from('hi'))
    await retry(() => atB.length === 1, { what: 'frame' })
    const gone: string[] = []
    a.on('disconnect', (id) => { gone.push(id) })
    await b.stop()
    await retry(() => gone.includes(b.hostId), { what: 'disconnect event' })
    t.deepEqual(gone, [b.hostId])
  })
}
