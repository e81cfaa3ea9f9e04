import { EventEmitter } from 'node:events'
import type { Worker } from 'node:worker_threads'
import { hostIdFromSeed } from './host-key.js'
import { errorFromWire } from '../errors/roost-error.js'
import { NotStartedError, TransportError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import type { HyperswarmTransportInit } from './hyperswarm-transport.js'
import type { FromTransport, ToTransport, TransportWorkerData } from './transport-thread-messages.js'
import type { PeerInfo, SendFailure, SendTarget, Transport } from './transport.js'
import { startWorkerModule } from '../threads/worker-module.js'
import { addToRuns, createFrameCursor, packedList, typedBuffers, type FrameCursor } from './frame-batch.js'
import { FRAME_HEADER_BYTES, writeFrameLength } from '../codec/frame.js'
import { createFrameListeners } from './frame-listeners.js'
import { createPendingSends } from './pending-sends.js'
import { createFrameCounts } from './frame-counts.js'
import { createRingMemory, createRingReader, type RingReader, DEFAULT_RING_BYTES } from './frame-ring.js'
import type { Milestones } from '../log/milestones.js'

export interface TransportThreadInit extends HyperswarmTransportInit {
  logLevel: string
  logBase: Record<string, unknown>
  /** How long frames from one batch may be handed on before the rest wait for the next turn (ms). */
  turnBudgetMs?: number
  /** Bytes of the ring received frames come through ({@link DEFAULT_RING_BYTES}). */
  ringBytes?: number
  /**
   * Actor paths (ASCII, under 128 bytes) whose frames are handed on ahead of a backlog of other
   * frames: the failure detector's (`/agent/membership`), so that its probes and acks are not
   * answered seconds late behind a flood of other messages and a live host declared dead. Only
   * compact envelopes sent without a session header qualify (a session's frames stay in order),
   * and only while no connection event waits in the inbox, so no frame overtakes its host's
   * `connect` or `disconnect`.
   */
  priorityPaths?: readonly string[]
}

export interface TransportThreadComponents {
  logger: Logger
  /** The thread died while running: the host cannot talk to its cluster any more. */
  onExit?: (err: Error) => void
  /** Where the thread's start milestones (DHT ready, announced, lookups) are recorded. */
  milestones?: Pick<Milestones, 'reach'>
}

const DEFAULT_TURN_BUDGET_MS = 2
/** While handing frames on, the clock is read after every this many frames under CLOCK_BYTES, and after each larger one or event. */
const CLOCK_EVERY = 8
const CLOCK_BYTES = 2048
/** Host id strings kept for reuse (more hosts than this start the table over). */
const MAX_HOST_STRINGS = 4096
/** Sends are handed to the thread together at the end of the current task, or once this many bytes wait. */
const SEND_BATCH_BYTES = 256 * 1024
/**
 * The buffer sends are framed into: a batch's worth and room to spare, so that the place
 * sendTarget lends has tens of KB after it (a payload that does not fit there is sent with `send`).
 */
const OUT_BYTES = SEND_BATCH_BYTES + 64 * 1024
const PEERS_INTERVAL_MS = 1_000
/** Inbox entries (batches and events) kept allocated once emptied; a larger burst's array is let go. */
const INBOX_KEEP = 1024
const STOP_TIMEOUT_MS = 10_000
/** Priority frames waiting before a batch's are left in their turn (a failure detector sends a few a second per peer). */
const MAX_PRIORITY_WAITING = 1024
const EMPTY = Buffer.alloc(0)

/**
 * The transport thread's young generation (MB): a 1 MB semi-space. Its frames live in the
 * shared ring and transferred buffers, not its heap; at this size the flood bench ran at
 * 740k / 805k msg/s against 505k / 714k with the 6 MB other workers get (alternated pairs,
 * 0 suspicions each) and the messaging ratio held (1.26 / 1.22 / 1.28 against 1.03 / 1.14 / 1.04),
 * while a joining host's idle thread no longer keeps a 4 MB new space its start-up grew.
 */
export const TRANSPORT_YOUNG_GENERATION_MB = 3

/** The thread, on transport-worker.ts beside this module. */
function startWorker (data: TransportWorkerData): Worker {
  return startWorkerModule(import.meta.url, 'transport-worker', { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: TRANSPORT_YOUNG_GENERATION_MB } })
}

/**
 * The hyperswarm transport on its own worker thread (see transport-worker.ts), behind the same
 * {@link Transport} interface: payloads go over by transfer, frames come back in batches and
 * are handed on a few milliseconds' worth per event-loop turn, so a flood of input costs the
 * actor loop at most one turn budget at a time. `start`/`stop` are idempotent.
 */
export function createTransportThread (init: TransportThreadInit, components: TransportThreadComponents): Transport {
  const { logLevel, logBase, turnBudgetMs, ringBytes, priorityPaths, ...transportInit } = init
  const priority = [...(priorityPaths ?? [])]
  for (const p of priority) if (p.length >= 128 || !/^[\x20-\x7e]*$/.test(p)) throw new RangeError(`priority path must be printable ASCII under 128 bytes: ${p}`)
  const budget = turnBudgetMs ?? DEFAULT_TURN_BUDGET_MS
  const log = components.logger.child({ component: 'transport', transport: 'hyperswarm-thread' })
  const hostId = hostIdFromSeed(init.seed)
  const events = new EventEmitter()
  const frames = createFrameListeners(events)
  const pendingSends = createPendingSends()
  const heard = createFrameCounts()
  /**
   * One string per host: a batch's host ids arrive as fresh strings, and every table a frame
   * passes on its way in (remoting, metrics, the actor system) is keyed by host, where equal
   * strings that are not the same string are compared character by character (64 of them).
   */
  const hostStrings = new Map<string, string>()
  const sameHost = (host: string): string => {
    const known = hostStrings.get(host)
    if (known !== undefined) return known
    if (hostStrings.size >= MAX_HOST_STRINGS) hostStrings.clear()
    hostStrings.set(host, host)
    return host
  }
  /**
   * Batches of frames, each read lazily through its cursor (a view is made only as a frame is
   * handed on), and in their order the connection events that followed them. The array keeps its
   * capacity between bursts (emptied, a fresh backing store grew back every time).
   */
  const inbox: Array<FrameCursor | (() => void) | undefined> = []
  let inboxAt = 0
  let inCount = 0
  /** Connection events waiting in the inbox. */
  let inEvents = 0
  /**
   * Frames to priority paths, handed on before the inbox, a turn budget at a time like the rest
   * (never ring frames: those are released in order). Past MAX_PRIORITY_WAITING, frames stay in
   * the inbox in their turn: a peer cannot buy its way ahead with a flood of them.
   */
  const prioHosts: string[] = []
  const prioPayloads: Buffer[] = []
  let prioAt = 0
  let draining = false
  let worker: Worker | undefined
  let ring: RingReader | undefined
  let running = false
  let starting: Promise<void> | undefined
  let stopping: Promise<void> | undefined
  let peers: PeerInfo[] = []
  let addresses: string[] = []
  let outIds: number[] = []
  let outHosts: string[] = []
  let outRuns: number[] = []
  /**
   * Sends waiting for the end of the task, framed as they go on the wire (the thread writes a run
   * to a connected host as it is). A payload is copied in as it is sent, or written here in the
   * first place (sendTarget). Not from Buffer's pool: the memory is transferred.
   */
  let out = Buffer.allocUnsafeSlow(OUT_BYTES)
  let outUsed = 0
  let outLens: number[] = []
  let outQueued = false
  const target: SendTarget = { bytes: out, at: 0 }

  const flushSends = (): void => {
    outQueued = false
    const w = worker
    if (outLens.length === 0) return
    let bytes: Buffer
    if (outUsed * 2 >= out.byteLength) {
      bytes = out.subarray(0, outUsed)
      out = Buffer.allocUnsafeSlow(OUT_BYTES)
    } else {
      // A small batch goes in a copy of its size; the buffer stays for the next.
      bytes = Buffer.allocUnsafeSlow(outUsed)
      bytes.set(out.subarray(0, outUsed))
    }
    const lens = packedList(outLens, Int32Array)
    const ids = packedList(outIds, Float64Array)
    const msg: ToTransport = { t: 'send', ids, hosts: outHosts, runs: outRuns, lens, bytes }
    outIds = []
    outHosts = []
    outRuns = []
    outLens = []
    outUsed = 0
    if (w === undefined) {
      const err = new NotStartedError('transport stopped')
      for (const id of msg.ids) pendingSends.fail(id, err)
      return
    }
    w.postMessage(msg, [bytes.buffer as ArrayBuffer, ...typedBuffers(ids, lens)])
  }

  /** Records the payload at `out[outUsed + FRAME_HEADER_BYTES, end)` as the next frame to `host`. */
  const commit = (host: string, end: number, onFailure: SendFailure | undefined, token: number): void => {
    const n = end - outUsed - FRAME_HEADER_BYTES
    writeFrameLength(out, outUsed, n)
    outUsed = end
    outIds.push(onFailure === undefined ? 0 : pendingSends.add(onFailure, token))
    addToRuns(outHosts, outRuns, host)
    outLens.push(n)
    if (outUsed >= SEND_BATCH_BYTES) flushSends()
    else if (!outQueued) { outQueued = true; queueMicrotask(flushSends) }
  }

  const handFrame = (c: FrameCursor): void => {
    if (c.mark < 0 || ring === undefined) {
      frames.emitRange(c.host, c.bytes, c.start, c.end)
      return
    }
    ring.begin(c.view(), c.mark)
    try {
      frames.emit(c.host, c.view())
    } finally {
      ring.end()
    }
  }

  /** Hands frames on, in order, until `until` (performance.now() ms) has passed. */
  const handOn = (until: number): void => {
    let unclocked = 0
    while (prioAt < prioPayloads.length) {
      const at = prioAt++
      const payload = prioPayloads[at] as Buffer
      prioPayloads[at] = EMPTY
      frames.emit(prioHosts[at] as string, payload)
      if (++unclocked < CLOCK_EVERY) continue
      unclocked = 0
      if (performance.now() > until) return
    }
    if (prioAt > 0) {
      prioAt = 0
      prioHosts.length = 0
      prioPayloads.length = 0
    }
    outer: while (inboxAt < inCount) {
      const item = inbox[inboxAt] as FrameCursor | (() => void)
      if (typeof item === 'function') {
        inbox[inboxAt++] = undefined
        inEvents--
        item()
        unclocked = 0
        if (performance.now() > until) break
        continue
      }
      while (item.next()) {
        const bytes = item.end - item.start
        handFrame(item)
        // A clock read costs about as much as handing on a small frame: read it every few small ones.
        if (bytes < CLOCK_BYTES && ++unclocked < CLOCK_EVERY) continue
        unclocked = 0
        if (performance.now() > until) break outer
      }
      inbox[inboxAt++] = undefined
    }
    ring?.release()
    if (inboxAt === inCount) {
      inboxAt = 0
      inCount = 0
      if (inbox.length > INBOX_KEEP) inbox.length = 0
    }
  }

  const drain = (): void => {
    draining = false
    handOn(performance.now() + budget)
    if (inboxAt < inCount || prioAt < prioPayloads.length) {
      draining = true
      setImmediate(drain)
    }
  }

  /**
   * Hands on from the check phase only: however many batches one poll phase brings, the actor
   * loop spends at most one budget on them per turn.
   */
  const schedule = (): void => {
    if (draining) return
    draining = true
    setImmediate(drain)
  }

  /** A connection event is emitted after every frame received before it, in the same budget. */
  const queueEvent = (event: () => void): void => {
    inbox[inCount++] = event
    inEvents++
    schedule()
  }

  const drainAll = (): void => { handOn(Infinity) }

  const takePriority = (host: string, payload: Buffer): void => {
    prioHosts.push(host)
    prioPayloads.push(payload)
  }

  const onMessage = (m: FromTransport): void => {
    switch (m.t) {
      case 'frames': {
        for (let j = 0; j < m.hosts.length; j++) {
          const host = sameHost(m.hosts[j] as string)
          m.hosts[j] = host
          heard.add(host, m.runs[j] as number)
        }
        const cursor = createFrameCursor(m, ring)
        // No frame overtakes a connection event still waiting (its host's connect or disconnect).
        if (priority.length > 0 && inEvents === 0 && prioPayloads.length - prioAt < MAX_PRIORITY_WAITING) cursor.takeUrgent(takePriority)
        inbox[inCount++] = cursor
        schedule()
        return
      }
      case 'settled':
        for (const id of m.ok) pendingSends.settle(id)
        for (const f of m.failed) pendingSends.fail(f.id, errorFromWire(f.error))
        return
      case 'frame-error': {
        const err = errorFromWire(m.error)
        if (m.head !== null) Object.defineProperty(err, 'head', { value: Buffer.from(m.head), enumerable: false })
        queueEvent(() => { events.emit('frame-error', m.host, err) })
        return
      }
      case 'connect': {
        const peer = m.peer
        upsert(peer)
        queueEvent(() => { events.emit('connect', peer) })
        return
      }
      case 'disconnect': {
        const reason = m.reason === null ? undefined : errorFromWire(m.reason)
        queueEvent(() => { events.emit('disconnect', m.host, reason) })
        return
      }
      case 'discover':
        events.emit('discover', m.host)
        return
      case 'peers':
        peers = m.peers
        return
      case 'milestone':
        components.milestones?.reach(m.event, m.n, m.at)
        return
      case 'started':
      case 'start-failed':
      case 'stopped':
    }
  }

  const upsert = (peer: PeerInfo): void => {
    const i = peers.findIndex(p => p.hostId === peer.hostId)
    peers = i < 0 ? [...peers, peer] : peers.map((p, j) => j === i ? peer : p)
  }

  const doStart = async (): Promise<void> => {
    const memory = createRingMemory(ringBytes ?? DEFAULT_RING_BYTES)
    ring = createRingReader(memory)
    const w = startWorker({ init: transportInit, logLevel, logBase, peersIntervalMs: PEERS_INTERVAL_MS, ring: memory.shared, priorityPaths: priority })
    worker = w
    w.on('message', onMessage)
    w.on('error', (err) => { log.error({ err }, 'transport thread failed') })
    await new Promise<void>((resolve, reject) => {
      const onExit = (code: number): void => { reject(new TransportError(`the transport thread exited with ${code} while starting`)) }
      w.once('exit', onExit)
      const onStarted = (m: FromTransport): void => {
        if (m.t !== 'started' && m.t !== 'start-failed') return
        w.off('message', onStarted)
        w.off('exit', onExit)
        if (m.t === 'start-failed') { reject(errorFromWire(m.error)); return }
        addresses = m.addresses
        peers = m.peers
        resolve()
      }
      w.on('message', onStarted)
      w.postMessage({ t: 'start' } satisfies ToTransport)
    }).catch(async (err: unknown) => {
      worker = undefined
      await w.terminate()
      throw err
    })
    running = true
    w.on('exit', (code) => {
      if (worker !== w) return
      worker = undefined
      running = false
      const err = new TransportError(`the transport thread exited with ${code}`)
      log.error({ code }, 'the transport thread exited')
      pendingSends.failAll(err)
      components.onExit?.(err)
    })
  }

  const doStop = async (): Promise<void> => {
    if (starting !== undefined) await starting.catch(() => {})
    starting = undefined
    const w = worker
    if (w === undefined) return
    running = false
    flushSends()
    worker = undefined
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, STOP_TIMEOUT_MS)
      const done = (): void => { clearTimeout(timer); resolve() }
      w.on('message', (m: FromTransport) => { if (m.t === 'stopped') done() })
      w.once('exit', done)
      w.postMessage({ t: 'stop' } satisfies ToTransport)
    })
    drainAll()
    await w.terminate()
    pendingSends.failAll(new NotStartedError('transport stopped'))
  }

  return {
    priorityPaths: priority,
    hostId,
    kind: 'hyperswarm',
    framesAsRanges: true,
    async start () {
      if (running) return
      starting ??= doStart()
      await starting
    },
    async stop () {
      stopping ??= doStop().finally(() => { stopping = undefined })
      await stopping
    },
    send (host, payload, onFailure, token = 0) {
      if (!running || worker === undefined) {
        onFailure?.(new NotStartedError('transport is not running'), token)
        return
      }
      const need = FRAME_HEADER_BYTES + payload.byteLength
      if (outUsed + need > out.byteLength) {
        flushSends()
        if (need > out.byteLength) out = Buffer.allocUnsafeSlow(need)
      }
      out.set(payload, outUsed + FRAME_HEADER_BYTES)
      commit(host, outUsed + need, onFailure, token)
    },
    sendTarget () {
      if (!running || worker === undefined) return undefined
      target.bytes = out
      target.at = outUsed + FRAME_HEADER_BYTES
      return target
    },
    commitSend (host, end, onFailure, token = 0) {
      commit(host, end, onFailure, token)
    },
    peers () { return peers.map(p => ({ ...p })) },
    addresses () { return running ? [...addresses] : [] },
    hostDown (host, reason) {
      flushSends()
      worker?.postMessage({ t: 'host-down', host, reason } satisfies ToTransport)
    },
    hostUp (host) {
      worker?.postMessage({ t: 'host-up', host } satisfies ToTransport)
    },
    framesFrom: heard.of,
    on: frames.on,
    off: frames.off
  } satisfies Transport
}
