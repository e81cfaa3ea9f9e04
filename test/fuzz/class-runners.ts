import fc from 'fast-check'
import { SYS_REPLY } from '../../src/codec/envelope.js'
import { DEFAULT_MAX_FRAME_BYTES } from '../../src/codec/frame.js'
import { apiRequest } from './arbitraries/api-requests.js'
import { controlCase } from './arbitraries/control-frames.js'
import { ANSWERED, envelopeCase, type EnvelopeCase, type MessageShape } from './arbitraries/envelopes.js'
import { payloadBytes, streamBytes } from './arbitraries/frames.js'
import { gossipShapes, type GossipIds } from './arbitraries/gossip.js'
import { helloStage } from './arbitraries/hellos.js'
import { fakeHostId, type HostileOpts } from './arbitraries/hostile-values.js'
import { sessionFrames } from './arbitraries/session-frames.js'
import type { AdmittedPeer } from './admitted-peer.js'
import type { ApiDriver } from './api-driver.js'
import { runControlCase } from './control-driver.js'
import type { Outsider } from './outsider.js'

/** The input classes of issue 13's fuzz suite. */
export const INPUT_CLASSES = ['hello', 'frames', 'session', 'envelopes', 'gossip', 'senders', 'api', 'control'] as const
export type InputClass = typeof INPUT_CLASSES[number]

/** What one batch of a class did. A case counts as delivered only when the harness knows the target read it. */
export interface Tally {
  attempted: number
  delivered: number
  /** Cases that owed an answer (a reply, an error, a refusal or a close). */
  owed: number
  answered: number
  /** Owed an answer, got nothing in time. */
  hangs: number
  /** A message no remote host may send was carried out (answered with a reply, not an error). */
  accepted: number
  /** An HTTP error status without the API's typed `{error, code}` body. */
  untyped: number
}

export const emptyTally = (): Tally => ({ attempted: 0, delivered: 0, owed: 0, answered: 0, hangs: 0, accepted: 0, untyped: 0 })

export function addTally (a: Tally, b: Tally): void {
  for (const k of Object.keys(b) as Array<keyof Tally>) a[k] += b[k]
}

/** Everything a batch needs: the drivers and the ids gossip may name. */
export interface Drivers {
  peer: AdmittedPeer
  outsider: Outsider
  api: ApiDriver
  controlSocket: string
  apiToken: string
  clusterName: string
  ids: GossipIds
  hostile: HostileOpts
  /** How long the target may take over a batch (an unfixed agent spends seconds on one hostile value). */
  batchTimeoutMs: number
}

/** Messages no other host may send (issue 13, item 4); each body validates, so only the sender is wrong. */
export function senderShapes (target: string): MessageShape[] {
  return [
    { type: 'membership.leave', to: '/agent/membership', body: fc.constant({}) },
    { type: 'membership.write', to: '/agent/membership', body: fc.record({ table: fc.constant('services'), key: fc.nat(7).map(n => `fuzz-sender-${n}`), data: fc.constant({}) }) },
    { type: 'membership.delete', to: '/agent/membership', body: fc.record({ table: fc.constant('hosts'), key: fc.constant(target) }) },
    { type: 'machines.shutdown', to: '/agent/machines', body: fc.record({ stopVms: fc.boolean() }) },
    { type: 'wireguard.failed', to: '/agent/wireguard', body: fc.record({ message: fc.constant('fuzz'), code: fc.constant('ERR_FUZZ') }) },
    { type: 'router.dataplane-exit', to: '/agent/router', body: fc.record({ message: fc.constant('fuzz') }) },
    { type: 'acme.tick', to: '/agent/acme', body: fc.constant({}) }
  ]
}

const sample = <T>(arb: fc.Arbitrary<T>, n: number, seed: number): T[] => n <= 0 ? [] : fc.sample(arb, { seed, numRuns: n })

/** Runs `n` cases of an admitted-peer class, a barrier after them, and waits for the answers owed. */
async function admittedBatch (d: Drivers, cls: InputClass, n: number, seed: number): Promise<Tally> {
  const t = emptyTally()
  const peer = d.peer
  if (!peer.connected()) await peer.connect()
  const gen = peer.generation
  const envs: EnvelopeCase[] = []
  let i = 0
  const flush = async (): Promise<void> => { if (++i % 32 === 0) await peer.drained() }
  if (cls === 'frames') {
    const arb = fc.oneof({ arbitrary: payloadBytes(d.hostile).map(p => ({ session: true, bytes: p })), weight: 3 },
      { arbitrary: streamBytes(DEFAULT_MAX_FRAME_BYTES, { ...d.hostile, allowUnaligned: false }).map(s => ({ session: false, bytes: s.bytes })), weight: 1 })
    for (const c of sample(arb, n, seed)) {
      if (c.session) peer.sendPayload(c.bytes)
      else peer.writeRaw(c.bytes)
      t.attempted++
      await flush()
    }
  } else if (cls === 'session') {
    for (const frames of sample(sessionFrames(peer.epoch, d.hostile), n, seed)) {
      peer.writeFrames(frames)
      t.attempted++
      await flush()
    }
  } else {
    const shapes = cls === 'gossip' ? gossipShapes(d.ids, d.hostile) : cls === 'senders' ? senderShapes(d.ids.target) : ANSWERED
    const arb = envelopeCase(shapes, peer.nextId, { ...d.hostile, mustRefuse: cls === 'senders', fieldBadWeight: cls === 'envelopes' ? 2 : 1 })
    for (const c of sample(arb, n, seed)) {
      peer.sendPayload(c.payload)
      envs.push(c)
      t.attempted++
      await flush()
    }
  }
  await peer.drained()
  if (!await peer.barrier(d.batchTimeoutMs) || peer.generation !== gen) return t
  t.delivered = t.attempted
  const owed = envs.filter(e => e.wantsAnswer)
  t.owed = owed.length
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline && owed.some(e => !peer.answers.has(e.id))) await new Promise(resolve => setTimeout(resolve, 20))
  for (const e of owed) {
    const a = peer.answers.get(e.id)
    if (a === undefined) t.hangs++
    else {
      t.answered++
      if (e.mustRefuse && a.type === SYS_REPLY) t.accepted++
    }
  }
  for (const e of envs) peer.answers.delete(e.id)
  return t
}

async function pool<T> (items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T)
  }))
}

/** One batch of `n` cases of class `cls`, generated from `seed`. */
export async function runBatch (d: Drivers, cls: InputClass, n: number, seed: number): Promise<Tally> {
  const t = emptyTally()
  switch (cls) {
    case 'hello':
      await pool(sample(helloStage(d.clusterName, DEFAULT_MAX_FRAME_BYTES, d.hostile), n, seed), 16, async (c) => {
        t.attempted++
        // A truncated hello is refused when the target's hello timeout (5 s) runs out.
        const o = await d.outsider.attempt(c.bytes, Math.max(8_000, d.batchTimeoutMs))
        if (!o.delivered) return
        t.delivered++
        t.owed++
        if (o.refused) t.answered++
        else t.hangs++
      })
      return t
    case 'api':
      await pool(sample(apiRequest(d.apiToken), n, seed), 8, async (req) => {
        t.attempted++
        const o = await d.api.send(req, d.batchTimeoutMs)
        if (!o.delivered && !o.closed) { t.hangs++; return }
        t.delivered++
        t.owed++
        if (o.status !== undefined || o.closed) t.answered++
        else t.hangs++
        if (o.status !== undefined && !o.typed) t.untyped++
      })
      return t
    case 'control':
      await pool(sample(controlCase(d.hostile), n, seed), 16, async (c) => {
        t.attempted++
        const o = await runControlCase(d.controlSocket, c, { timeoutMs: d.batchTimeoutMs, quietMs: 100 })
        if (!o.delivered) return
        t.delivered++
        if (c.answerIds.length === 0) return
        t.owed++
        if (o.answered || o.closed) t.answered++
        else t.hangs++
      })
      return t
    default:
      return await admittedBatch(d, cls, n, seed)
  }
}

/** A few host ids that belong to nobody, for lies about strangers. */
export const strangers = (seed: number): string[] => sample(fakeHostId, 4, seed)
