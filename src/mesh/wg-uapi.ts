import { createConnection } from 'node:net'
import { MeshError } from '../errors/errors.js'
import type { WgInterfaceStatus, WgPeerStatus } from './wg-dump.js'
import { socketPath } from './wireguard-process.js'

export const UAPI_TIMEOUT_MS = 2_000
const MAX_REPLY_BYTES = 16 * 1024 * 1024

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
