import { randomBytes } from 'node:crypto'

/** Headers only the router may set: a client's copies are dropped, never trusted. */
const INTERNAL = new Set([
  'roost-client-ip', 'roost-client-port', 'roost-forwarded-port', 'roost-region', 'roost-request-id',
  'roost-replay-src', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-ssl'
])
/** Client hints the router consumes. */
export const PREFER_REGION = 'roost-prefer-region'
export const FORCE_INSTANCE = 'roost-force-instance-id'
export const REPLAY = 'roost-replay'
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate'])

/** Header names a `Connection` header lists (they are hop-by-hop too). */
export function connectionTokens (value: string | undefined): string[] {
  if (value === undefined) return []
  return value.split(',').map(s => s.trim().toLowerCase()).filter(s => s.length > 0)
}

/** Whether a request header must not reach the machine as the client sent it. */
export function dropRequestHeader (name: string, listed: readonly string[], upgrading: boolean): boolean {
  if (upgrading && name === 'upgrade') return false
  return HOP_BY_HOP.has(name) || INTERNAL.has(name) || name === PREFER_REGION || name === FORCE_INSTANCE ||
    (listed.length > 0 && listed.includes(name))
}

/** Whether a response header must not reach the client as the machine sent it. */
export function dropResponseHeader (name: string, listed: readonly string[], upgrading: boolean): boolean {
  if (upgrading && name === 'upgrade') return false
  return HOP_BY_HOP.has(name) || name === REPLAY || name === 'roost-region' || name === 'roost-request-id' ||
    (listed.length > 0 && listed.includes(name))
}

export interface ForwardInfo {
  clientIp: string
  clientPort: number
  /** The public port the client connected to. */
  port: number
  tls: boolean
  requestId: string
  /** This (edge) router's region. */
  region: string
  /** X-Forwarded-For as the client sent it, if any (the client's IP is appended). */
  priorForwardedFor: string | undefined
  upgrading: string | null
}

/** The header lines the edge adds to a request (`Name: value\r\n` each). */
export function requestHeaderLines (f: ForwardInfo): string {
  const xff = f.priorForwardedFor === undefined || f.priorForwardedFor === '' ? f.clientIp : `${f.priorForwardedFor}, ${f.clientIp}`
  return `x-forwarded-for: ${xff}\r\nx-forwarded-proto: ${f.tls ? 'https' : 'http'}\r\nx-forwarded-port: ${f.port}\r\n` +
    `x-forwarded-ssl: ${f.tls ? 'on' : 'off'}\r\nroost-client-ip: ${f.clientIp}\r\nroost-client-port: ${f.clientPort}\r\n` +
    `roost-forwarded-port: ${f.port}\r\nroost-region: ${f.region}\r\nroost-request-id: ${f.requestId}\r\nvia: 1.1 roost\r\n` +
    (f.upgrading === null ? '' : 'connection: upgrade\r\n')
}

/** The header lines added to a response: the request id, the region that served it, Via. */
export function responseHeaderLines (requestId: string, servedRegion: string, connection: 'close' | 'keep-alive' | 'upgrade' | null): string {
  return `roost-request-id: ${requestId}\r\nroost-region: ${servedRegion}\r\nvia: 1.1 roost\r\n` +
    (connection === null ? '' : `connection: ${connection}\r\n`)
}

/** Request ids `<24 hex>-<region>`: a random per-process prefix and a counter. */
export function createRequestIds (region: string): () => string {
  const prefix = randomBytes(6).toString('hex')
  let seq = 0
  return () => {
    seq = (seq + 1) % 0x1000000000000
    return `${prefix}${seq.toString(16).padStart(12, '0')}-${region}`
  }
}

/** Where a machine asked the router to send the request instead (`roost-replay: region=…;instance=…;app=…`). */
export interface ReplayTarget {
  region?: string
  instance?: string
  app?: string
  state?: string
}

/** Parses a replay header; undefined when it names no target (or anything unknown). */
export function parseReplay (value: string): ReplayTarget | undefined {
  const out: ReplayTarget = {}
  for (const part of value.split(/[;,]/)) {
    const p = part.trim()
    if (p === '') continue
    const eq = p.indexOf('=')
    if (eq <= 0) return undefined
    const k = p.slice(0, eq).trim().toLowerCase()
    const v = p.slice(eq + 1).trim()
    if (v === '' || v.length > 128) return undefined
    if (k === 'region') out.region = v
    else if (k === 'instance') out.instance = v
    else if (k === 'app') out.app = v
    else if (k === 'state') out.state = v
    else return undefined
  }
  return out.region === undefined && out.instance === undefined && out.app === undefined ? undefined : out
}
