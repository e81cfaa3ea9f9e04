import { randomInt } from 'node:crypto'
import HyperDHT, { type KeyPair } from 'hyperdht'
import type { NoiseStream } from 'hyperswarm'
import { createCodec } from '../../src/codec/codec.js'
import { decodeEnvelope, SYS_ERROR, SYS_REPLY, type Envelope } from '../../src/codec/envelope.js'
import { FrameDecoder } from '../../src/codec/frame.js'
import { SESSION_ACK, SESSION_DATA, SESSION_DATA_HEADER_BYTES } from '../../src/transport/session.js'
import { deriveClusterKeys, helloProof } from '../../src/transport/cluster-keys.js'
import { encodeHello, HELLO_VERSION } from '../../src/transport/hello.js'
import { frameOf } from './arbitraries/frames.js'
import { pack } from './arbitraries/hostile-values.js'
import { REPLY_PATH } from './arbitraries/envelopes.js'
import { sessionAck, sessionData } from './arbitraries/session-frames.js'

/** What came back for one message id: its type (`sys.reply` / `sys.error`) and error code. */
export interface Answer { type: string, code: string | undefined }

/**
 * An admitted host built from the transport's own parts (a hyperdht connection, a hello with a
 * proof made from the cluster secret, session frames written by hand), so a driver decides every
 * byte after admission. It never announces itself to gossip, so no peer probes it or cuts it off.
 */
export interface AdmittedPeer {
  readonly hostId: string
  /** The epoch of the peer's own session (fuzzed session frames never use it). */
  readonly epoch: number
  /** Bumped each time the connection is replaced: what was written on an older one is not known to be delivered. */
  readonly generation: number
  readonly answers: Map<number, Answer>
  connected: () => boolean
  connect: () => Promise<void>
  /** A payload in a data frame of the peer's own session (the way actor messages travel). */
  sendPayload: (payload: Uint8Array) => void
  /** Frames below the session layer, as they are. */
  writeFrames: (payloads: readonly Uint8Array[]) => void
  writeRaw: (bytes: Buffer) => void
  /** Resolves once the stream has room again. */
  drained: () => Promise<void>
  /** A ping through the session; true when it is answered on the same connection (so everything written before it was read). */
  barrier: (timeoutMs: number) => Promise<boolean>
  nextId: () => number
  close: () => Promise<void>
}

export interface AdmittedPeerInit {
  cluster: string
  secret: string
  targetHostId: string
  bootstrap: { host: string, port: number }
}

type Connect = (publicKey: Buffer, opts: { keyPair: KeyPair }) => NoiseStream

export async function startAdmittedPeer (init: AdmittedPeerInit): Promise<AdmittedPeer> {
  const codec = createCodec()
  const keys = deriveClusterKeys(init.cluster, init.secret)
  const keyPair = HyperDHT.keyPair()
  const hostId = keyPair.publicKey.toString('hex')
  const dht = new HyperDHT({ bootstrap: [init.bootstrap], host: '127.0.0.1', ephemeral: true })
  await dht.ready()
  const epoch = randomInt(1, 0xffffffff)
  const answers = new Map<number, Answer>()
  let stream: NoiseStream | undefined
  let generation = 0
  let seq = 1
  let id = 1
  let recvEpoch = 0
  let expected = 0
  let ackPending = false
  let closing = false

  const ackTarget = (): void => {
    if (ackPending) return
    ackPending = true
    setImmediate(() => {
      ackPending = false
      stream?.write(frameOf(sessionAck(recvEpoch, expected - 1)))
    })
  }

  const onEnvelope = (env: Envelope): void => {
    if ((env.type === SYS_REPLY || env.type === SYS_ERROR) && env.re !== undefined) {
      answers.set(env.re, { type: env.type, code: (env.body as { code?: string } | null)?.code })
    } else if (env.type === 'gossip.ping') {
      sendPayload(pack([1, 'gossip.ack', id++, env.to, env.from, null, null, { seq: (env.body as { seq: number }).seq }]))
    }
  }

  const onSessionFrame = (frame: Buffer): void => {
    if (frame[0] !== SESSION_DATA || frame.byteLength < SESSION_DATA_HEADER_BYTES) return
    const e = frame.readUInt32BE(1)
    const s = frame.readUInt32BE(5)
    const low = frame.readUInt32BE(9)
    if (e !== recvEpoch) { recvEpoch = e; expected = low }
    if (s === expected) {
      expected++
      try { onEnvelope(decodeEnvelope(codec, frame.subarray(SESSION_DATA_HEADER_BYTES))) } catch {}
    }
    ackTarget()
  }

  const sendPayload = (payload: Uint8Array): void => {
    const s = seq++
    // low = seq: a frame lost with a replaced connection leaves no gap for the target to wait on.
    stream?.write(frameOf(sessionData(epoch, s, s, payload)))
  }

  const connect = async (): Promise<void> => {
    if (stream !== undefined && !stream.destroyed) return
    generation++
    const s = (dht as unknown as { connect: Connect }).connect(Buffer.from(init.targetHostId, 'hex'), { keyPair })
    stream = s
    let helloSeen = false
    const decoder = new FrameDecoder({
      maxFrameBytes: 8 * 1024 * 1024,
      onFrame: (payload) => {
        if (!helloSeen) { helloSeen = true; return }
        if (payload[0] === SESSION_ACK) return
        onSessionFrame(payload)
      },
      onError: () => {}
    })
    s.on('data', (chunk: Buffer) => { decoder.push(chunk) })
    s.on('error', () => {})
    s.on('end', () => { s.end() })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('admitted peer: no connection to the target within 10 s')) }, 10_000)
      s.once('open', () => { clearTimeout(timer); resolve() })
      s.once('close', () => { clearTimeout(timer); reject(new Error('admitted peer: connection closed before it opened')) })
    })
    s.write(frameOf(encodeHello(codec, {
      hello: HELLO_VERSION, cluster: keys.cluster, hostId, name: 'fuzz', version: 'fuzz', addresses: [], proof: helloProof(keys, s.handshakeHash, keyPair.publicKey)
    })))
  }

  const barrier = async (timeoutMs: number): Promise<boolean> => {
    const gen = generation
    const pid = id++
    sendPayload(pack([1, 'agent.ping', pid, '', '/agent', REPLY_PATH, null, { seq: pid }]))
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (answers.has(pid)) break
      if (stream === undefined || stream.destroyed) return false
      await new Promise(resolve => setTimeout(resolve, 5))
    }
    const ok = answers.get(pid)?.type === SYS_REPLY && gen === generation && stream !== undefined && !stream.destroyed
    answers.delete(pid)
    return ok
  }

  await connect()
  if (!await barrier(10_000)) throw new Error('admitted peer: the target did not answer a ping after admission')
  return {
    hostId,
    epoch,
    get generation () { return generation },
    answers,
    connected: () => stream !== undefined && !stream.destroyed && !closing,
    connect,
    sendPayload,
    writeFrames: (payloads) => { stream?.write(Buffer.concat(payloads.map(frameOf))) },
    writeRaw: (bytes) => { stream?.write(bytes) },
    drained: async () => {
      const s = stream
      if (s === undefined || s.destroyed || !s.writableNeedDrain) return
      await new Promise<void>(resolve => { s.once('drain', resolve); s.once('close', resolve) })
    },
    barrier,
    nextId: () => id++,
    close: async () => {
      closing = true
      stream?.destroy()
      await dht.destroy()
    }
  }
}
