import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { ExecutionContext } from 'ava'
import { createCodec, type Codec } from '../../src/codec/codec.js'
import { decodeEnvelope, encodeEnvelope, PROTOCOL_VERSION, type Envelope } from '../../src/codec/envelope.js'
import type { LocalCluster } from '../../src/cli/local-cluster.js'
import { silentLogger } from '../../src/log/logger.js'
import { HyperswarmTransport } from '../../src/transport/hyperswarm-transport.js'
import { createMeshTransport, type MeshTransport } from '../../src/transport/mesh-transport.js'
import { retry } from './retry.js'

/**
 * A bare host in the test process that joins a local cluster with its real secret and speaks
 * raw frames, to send agents what no well-behaved host would.
 */
export interface Probe {
  /** The session-layer transport agents speak (over the probe's hyperswarm stream). */
  transport: MeshTransport
  /** The stream under it, to send frames that bypass the session layer. */
  stream: HyperswarmTransport
  codec: Codec
  /** The seed of the probe's host key (to sign rows as the probe: createRowSigner(seed)). */
  seed: Buffer
  /** Every frame received, decoded as an envelope where possible. */
  received: Envelope[]
  sendRaw: (hostId: string, payload: Uint8Array) => void
  send: (hostId: string, env: Omit<Envelope, 'v'> & { v?: number }) => void
  /** Waits for the frame answering `id`. */
  answerTo: (id: number, timeoutMs?: number) => Promise<Envelope>
}

export async function startProbe (t: ExecutionContext, cluster: LocalCluster, opts: { secret?: string, cluster?: string, name?: string } = {}): Promise<Probe> {
  const codec = createCodec()
  const seed = randomBytes(32)
  const secret = opts.secret ?? (await readFile(cluster.secretFile, 'utf8')).trim()
  const stream = new HyperswarmTransport({
    cluster: opts.cluster ?? 'dev',
    secret,
    seed,
    name: opts.name ?? 'probe',
    version: 'test',
    bootstrap: [cluster.bootstrap],
    host: '127.0.0.1',
    connectTimeoutMs: 5_000,
    // The probe reads version-1 envelopes only, so its hello offers no other.
    envelopes: [1]
  }, { logger: silentLogger(), codec })
  const transport = createMeshTransport({}, { logger: silentLogger(), stream })
  await transport.start()
  t.teardown(async () => { await transport.stop() })
  const received: Envelope[] = []
  transport.on('frame', (_host, payload) => {
    try { received.push(decodeEnvelope(codec, payload)) } catch {}
  })
  return {
    transport,
    stream,
    codec,
    seed,
    received,
    sendRaw: (hostId, payload) => { transport.send(hostId, payload) },
    send: (hostId, env) => { transport.send(hostId, encodeEnvelope(codec, { ...env, v: env.v ?? PROTOCOL_VERSION })) },
    answerTo: async (id, timeoutMs = 10_000) => await retry(() => received.find(e => e.re === id), { timeoutMs, what: `answer to ${id}` })
  }
}
