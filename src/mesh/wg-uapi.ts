import { createConnection } from 'node:net'
import { MeshError } from '../errors/errors.js'
import type { WgInterfaceStatus, WgPeerStatus } from './wg-dump.js'
import { socketPath } from './wireguard-process.js'

export const UAPI_TIMEOUT_MS = 2_000
const MAX_REPLY_BYTES = 16 * 1024 * 1024
const MAX_SET_REPLY_BYTES = 4 * 1024

const hexToBase64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64')

/**
 * Parses a UAPI `get=1` reply (wireguard-go's control protocol: `key=value` lines, hex keys,
 * a `public_key=` line starting each peer, `errno=` last). Keys come out base64 like `wg`'s.
 * The private key line is read past, never kept.
 */
export function parseUapiGet (text: string): WgInterfaceStatus {
  const status: WgInterfaceStatus = { publicKey: '', listenPort: 0, peers: [] }
  let peer: WgPeerStatus | undefined
  let errno: number | undefined
  let handshakeSec = 0
  const finishPeer = (): void => {
    if (peer === undefined) return
    peer.latestHandshake = handshakeSec
    status.peers.push(peer)
  }
  for (const line of text.split('\n')) {
    if (line === '') continue
    const eq = line.indexOf('=')
    if (eq <= 0) throw new MeshError('malformed UAPI reply line')
    const key = line.slice(0, eq)
    const value = line.slice(eq + 1)
    if (key === 'public_key') {
      finishPeer()
      if (!/^[0-9a-f]{64}$/.test(value)) throw new MeshError('malformed UAPI public key')
      peer = { publicKey: hexToBase64(value), endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, keepaliveS: null }
      handshakeSec = 0
      continue
    }
    if (key === 'errno') { errno = Number(value); continue }
    if (peer === undefined) {
      if (key === 'listen_port') status.listenPort = Number(value)
      continue
    }
    switch (key) {
      case 'endpoint': peer.endpoint = value; break
      case 'allowed_ip': peer.allowedIps.push(value); break
      case 'last_handshake_time_sec': handshakeSec = Number(value); break
      case 'rx_bytes': peer.rxBytes = Number(value); break
      case 'tx_bytes': peer.txBytes = Number(value); break
      case 'persistent_keepalive_interval': peer.keepaliveS = Number(value) === 0 ? null : Number(value); break
      default: break
    }
  }
  finishPeer()
  if (errno !== 0) throw new MeshError(`UAPI get failed (errno ${String(errno)})`, { errno })
  return status
}

/**
 * Reads an interface's state over its UAPI socket: what `wg show IF dump` prints, without
 * starting a process (the mesh reads it every few tens of milliseconds while tunnels come up).
 * The interface's own public key is not in the reply; the caller knows it.
 */
export async function uapiGet (ifname: string, timeoutMs = UAPI_TIMEOUT_MS): Promise<WgInterfaceStatus> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const s = createConnection({ path: socketPath(ifname) })
    const timer = setTimeout(() => { s.destroy(); reject(new MeshError(`UAPI get on ${ifname} timed out`, { ifname })) }, timeoutMs)
    s.on('connect', () => { s.write('get=1\n\n') })
    s.on('data', (c: Buffer) => {
      chunks.push(c)
      size += c.byteLength
      if (size > MAX_REPLY_BYTES) s.destroy(new MeshError('UAPI reply too large'))
      if (c.includes('errno=')) s.end()
    })
    s.on('error', (err) => { clearTimeout(timer); reject(err instanceof MeshError ? err : new MeshError(`UAPI get on ${ifname}: ${err.message}`, { ifname })) })
    s.on('close', () => {
      clearTimeout(timer)
      try { resolve(parseUapiGet(Buffer.concat(chunks).toString('utf8'))) } catch (err) { reject(err) }
    })
  })
}

/**
 * Sends one `set=1` to the interface's control socket and resolves once wireguard-go answered
 * `errno=0`; a MeshError otherwise. Saves a `wg` process per change: starting one costs tens of
 * milliseconds on a loaded host, and a mesh coming up makes several changes per host.
 */
export async function uapiSet (ifname: string, body: string, timeoutMs = UAPI_TIMEOUT_MS): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let reply = ''
    let settled = false
    const s = createConnection({ path: socketPath(ifname) })
    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      s.destroy()
      if (err === undefined) resolve()
      else reject(err)
    }
    const timer = setTimeout(() => { finish(new MeshError(`UAPI set on ${ifname} timed out`, { ifname })) }, timeoutMs)
    s.on('connect', () => { s.write(`set=1\n${body}\n`) })
    s.on('data', (c: Buffer) => {
      reply += c.toString('utf8')
      if (reply.length > MAX_SET_REPLY_BYTES) { finish(new MeshError('UAPI reply too large', { ifname })); return }
      const m = /errno=(-?\d+)\n/.exec(reply)
      if (m === null) return
      const errno = Number(m[1])
      finish(errno === 0 ? undefined : new MeshError(`UAPI set on ${ifname} failed (errno ${errno})`, { ifname, errno }))
    })
    s.on('error', (err) => { finish(new MeshError(`UAPI set on ${ifname}: ${err.message}`, { ifname })) })
    s.on('close', () => { finish(new MeshError(`UAPI set on ${ifname}: connection closed before an answer`, { ifname })) })
  })
}
