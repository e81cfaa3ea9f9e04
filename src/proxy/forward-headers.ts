import { randomBytes } from 'node:crypto'
import type { RequestHead, ResponseHead } from './http/head-types.js'
import { hopByHop } from './http/rewrite-head.js'

/** Headers only the router may set: a client's copies are dropped, never trusted. */
const INTERNAL = new Set([
  'roost-client-ip', 'roost-client-port', 'roost-forwarded-port', 'roost-region', 'roost-request-id',
  'roost-replay-src', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-ssl'
])
/** Client hints the router consumes. */
export const PREFER_REGION = 'roost-prefer-region'
export const FORCE_INSTANCE = 'roost-force-instance-id'
export const REPLAY = 'roost-replay'
const STANDARD_OPTIONS = new Set(['close', 'keep-alive', 'upgrade'])

const hop = (name: string): boolean => name === 'connection' || name === 'keep-alive' || name === 'proxy-connection' ||
  name === 'te' || name === 'upgrade' || name === 'proxy-authorization' || name === 'proxy-authenticate'
const dropRequest = (name: string): boolean => hop(name) || INTERNAL.has(name) || name === PREFER_REGION || name === FORCE_INSTANCE
const dropRequestUpgrading = (name: string): boolean => name !== 'upgrade' && dropRequest(name)
const dropResponse = (name: string): boolean => hop(name) || name === REPLAY || name === 'roost-region' || name === 'roost-request-id'
const dropResponseUpgrading = (name: string): boolean => name !== 'upgrade' && dropResponse(name)

function plain (head: RequestHead | ResponseHead): boolean {
  for (const option of head.connectionOptions) if (!STANDARD_OPTIONS.has(option)) return false
  return true
}

/**
 * Which request headers must not reach the machine as the client sent them: hop-by-hop ones
 * (RFC 9110 §7.6.1, including those `Connection` names — never the framing fields), the
 * router's own (a client cannot spoof them) and the client hints the router consumes.
 */
export function requestDropper (head: RequestHead, upgrading: boolean): (name: string) => boolean {
  const base = upgrading ? dropRequestUpgrading : dropRequest
  if (plain(head)) return base
  const listed = hopByHop(head)
  return (name) => base(name) || listed.has(name)
}

/** Which response headers must not reach the client as the machine sent them. */
export function responseDropper (head: ResponseHead, upgrading: boolean): (name: string) => boolean {
  const base = upgrading ? dropResponseUpgrading : dropResponse
  if (plain(head)) return base
  const listed = hopByHop(head)
  return (name) => base(name) || listed.has(name)
}

export interface ForwardInfo {
  clientIp: string
  clientPort: number
  /** The public port the client connected to. */
  port: number
  tls: boolean
  /** This (edge) router's region. */
  region: string
}

/**
 * The header lines the edge adds to every request of one client connection (`Name: value\r\n`
 * each) but the request id and X-Forwarded-For; computed once per connection.
 */
export function connectionHeaderLines (f: ForwardInfo): string {
  return `x-forwarded-proto: ${f.tls ? 'https' : 'http'}\r\nx-forwarded-port: ${f.port}\r\n` +
    `x-forwarded-ssl: ${f.tls ? 'on' : 'off'}\r\nroost-client-ip: ${f.clientIp}\r\nroost-client-port: ${f.clientPort}\r\n` +
    `roost-forwarded-port: ${f.port}\r\nroost-region: ${f.region}\r\nvia: 1.1 roost\r\n`
}

/** X-Forwarded-For: the client's address appended to what it sent, if anything. */
export function forwardedForLine (clientIp: string, prior: string | undefined): string {
  return `x-forwarded-for: ${prior === undefined || prior === '' ? clientIp : `${prior}, ${clientIp}`}\r\n`
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
