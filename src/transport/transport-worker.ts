import { parentPort, workerData } from 'node:worker_threads'
import { createCodec } from '../codec/codec.js'
import { COMPACT_TAG, compactEnvelopeTo } from '../codec/compact-envelope.js'
import { FRAME_HEADER_BYTES, skippedFrameHead } from '../codec/frame.js'
import { toWireError } from '../errors/roost-error.js'
import { createLogger } from '../log/logger.js'
import { createFrameBatcher, packedList, typedBuffers } from './frame-batch.js'
import { createRingWriter } from './frame-ring.js'
import { createHyperswarmTransport } from './hyperswarm-transport.js'
import type { FromTransport, ToTransport, TransportWorkerData } from './transport-thread-messages.js'

// The hyperswarm transport's own thread: Noise handshakes, UDX packets and stream decryption run
// here, so a peer that floods this host (or a burst of megabytes) never holds the actor event loop.
const data = workerData as TransportWorkerData
const port = parentPort
if (port === null) throw new Error('transport-worker must run as a worker thread')
const post = (m: FromTransport, transfer: ArrayBuffer[] = []): void => { port.postMessage(m, transfer) }
const logger = createLogger({ level: data.logLevel, base: data.logBase })
const milestones = { reach: (event: string, n = 1, at = Date.now()): void => { post({ t: 'milestone', event, n, at }) } }
const transport = createHyperswarmTransport({ ...data.init, seed: Buffer.from(data.init.seed) }, { logger, codec: createCodec(), milestones })

const priority = data.priorityPaths.map(p => Buffer.from(p, 'latin1'))
const urgent = (bytes: Uint8Array, start: number, end: number): boolean => {
  if (bytes[start] !== COMPACT_TAG) return false
  for (let i = 0; i < priority.length; i++) if (compactEnvelopeTo(bytes, priority[i] as Buffer, start, end)) return true
  return false
}
const frames = createFrameBatcher(createRingWriter({ shared: data.ring }), priority.length === 0 ? undefined : urgent)
let ok: number[] = []
let failed: Array<{ id: number, error: ReturnType<typeof toWireError> }> = []
/** Per host being dialed, the sends queued for it (settled when it connects or fails). */
const dialing = new Map<string, number[]>()
let flushQueued = false

const flush = (): void => {
  flushQueued = false
  const batch = frames.take()
  if (batch !== null) post({ t: 'frames', ...batch }, [...batch.buffers.map(b => b.buffer as ArrayBuffer), ...typedBuffers(batch.lens, batch.bufs)])
  if (ok.length > 0 || failed.length > 0) {
    const settled = packedList(ok, Float64Array)
    post({ t: 'settled', ok: settled, failed }, typedBuffers(settled))
    ok = []
    failed = []
  }
}
const later = (): void => {
  if (flushQueued) return
  flushQueued = true
  setImmediate(flush)
}
const peersNow = (): void => { post({ t: 'peers', peers: transport.peers() }) }

/**
 * Frames per batch posted to the agent: reading a batch (a view per frame) is one task of the
 * actors' loop that no turn budget splits, so a flood must not make one of thousands of frames.
 */
const MAX_BATCH_FRAMES = 1024

/** After frames were added: a full batch goes now, else at the end of this turn. */
const added = (): void => {
  if (frames.size() >= MAX_BATCH_FRAMES) flush()
  else later()
}
transport.on('frame', (host, payload) => {
  frames.add(host, payload)
  added()
})
transport.onFrameRuns((host, bytes, start, end) => {
  for (let at = frames.addRun(host, bytes, start, end, MAX_BATCH_FRAMES); at < end; at = frames.addRun(host, bytes, at, end, MAX_BATCH_FRAMES)) flush()
  added()
})
transport.on('frame-error', (host, err) => { flush(); post({ t: 'frame-error', host, error: toWireError(err), head: skippedFrameHead(err) ?? null }) })
transport.on('connect', (peer) => {
  const queued = dialing.get(peer.hostId)
  if (queued !== undefined) {
    dialing.delete(peer.hostId)
    for (const id of queued) { dialHost.delete(id); ok.push(id) }
  }
  flush()
  post({ t: 'connect', peer })
  peersNow()
})
transport.on('disconnect', (host, reason) => { flush(); post({ t: 'disconnect', host, reason: reason === undefined ? null : toWireError(reason) }); peersNow() })
transport.on('discover', (host) => { flush(); post({ t: 'discover', host }); peersNow() })
const peersTimer = setInterval(peersNow, data.peersIntervalMs)

/** Hosts of the sends queued while their host is dialed, by id (only those: the rest settle at once). */
const dialHost = new Map<number, string>()
/** The id being sent right now: a failure for it during `transport.send` is a synchronous one. */
let sendingId = 0
let failedNow = false

/** One failure function for every send: the id comes back as the token. */
const onSendFailure = (err: Error, id: number): void => {
  if (id === sendingId) failedNow = true
  const host = dialHost.get(id)
  if (host !== undefined) {
    dialHost.delete(id)
    const queued = dialing.get(host)
    if (queued !== undefined) {
      const i = queued.indexOf(id)
      if (i >= 0) queued.splice(i, 1)
      if (queued.length === 0) dialing.delete(host)
    }
  }
  failed.push({ id, error: toWireError(err) })
  later()
}

const send = (id: number, host: string, payload: Uint8Array): void => {
  if (id === 0) { transport.send(host, payload); return }
  sendingId = id
  failedNow = false
  transport.send(host, payload, onSendFailure, id)
  sendingId = 0
  if (failedNow) return
  if (transport.isDialing(host)) {
    dialHost.set(id, host)
    const queued = dialing.get(host)
    if (queued === undefined) dialing.set(host, [id])
    else queued.push(id)
  } else {
    ok.push(id)
    later()
  }
}

port.on('message', (m: ToTransport) => {
  switch (m.t) {
    case 'send': {
      // Payloads arrive framed (length prefix included): a run to a host with an open connection
      // is written as it is, in one write; otherwise each payload is sent on its own.
      let off = m.bytes.byteOffset
      let i = 0
      for (let run = 0; run < m.runs.length; run++) {
        const host = m.hosts[run] as string
        const end = i + (m.runs[run] as number)
        let runBytes = 0
        for (let j = i; j < end; j++) runBytes += FRAME_HEADER_BYTES + (m.lens[j] as number)
        if (transport.writeFramed(host, Buffer.from(m.bytes.buffer, off, runBytes))) {
          for (; i < end; i++) if (m.ids[i] !== 0) ok.push(m.ids[i] as number)
          off += runBytes
          later()
          continue
        }
        for (; i < end; i++) {
          const n = m.lens[i] as number
          send(m.ids[i] as number, host, Buffer.from(m.bytes.buffer, off + FRAME_HEADER_BYTES, n))
          off += FRAME_HEADER_BYTES + n
        }
      }
      return
    }
    case 'host-down':
      transport.hostDown(m.host, m.reason)
      return
    case 'host-up':
      transport.hostUp(m.host)
      return
    case 'start':
      transport.start().then(
        () => { post({ t: 'started', addresses: transport.addresses(), peers: transport.peers() }) },
        (err: unknown) => { post({ t: 'start-failed', error: toWireError(err) }) })
      return
    case 'stop':
      clearInterval(peersTimer)
      transport.stop().catch((err: unknown) => { logger.warn({ err }, 'transport stop failed') }).finally(() => {
        flush()
        post({ t: 'stopped' })
        port.close()
      })
  }
})
