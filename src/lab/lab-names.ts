import { randomBytes } from 'node:crypto'
import { InvalidArgumentError } from '../errors/errors.js'

/** Every lab namespace starts with this; the owner's pid follows, so stale ones can be found. */
export const LAB_NETNS_PREFIX = 'roostlab-'
/** The bridge namespace's suffix (so no host may be called this). */
export const BRIDGE_SUFFIX = 'br'
/** The bridge's address inside the bridge namespace, where the DHT bootstrap listens. */
export const BRIDGE_ADDRESS = '10.77.0.1'
export const LAB_PREFIX_LENGTH = 24
/** Hosts get 10.77.0.(10+index): index 1…245. */
export const MAX_HOST_INDEX = 245
/** Linux's limit on an interface name (IFNAMSIZ − 1). */
export const IFNAME_MAX = 15

const LAB_ID_RE = /^[0-9a-f]{4}$/
const HOST_NAME_RE = /^[a-z0-9][a-z0-9_]{0,19}$/
const NETNS_RE = /^roostlab-(\d+)-([0-9a-f]{4})-([a-z0-9_]+)$/

/** A fresh 4-hex lab id that is not in `taken`. */
export function newLabId (taken: Iterable<string> = []): string {
  const used = new Set(taken)
  const start = randomBytes(2).readUInt16BE(0)
  for (let k = 0; k < 0x10000; k++) {
    const id = ((start + k) % 0x10000).toString(16).padStart(4, '0')
    if (!used.has(id)) return id
  }
  throw new InvalidArgumentError('no free lab id')
}

function checkLabId (labId: string): void {
  if (!LAB_ID_RE.test(labId)) throw new InvalidArgumentError(`lab id must be 4 hex digits, got ${JSON.stringify(labId)}`)
}

function checkIndex (index: number): void {
  if (!Number.isInteger(index) || index < 1 || index > MAX_HOST_INDEX) throw new InvalidArgumentError(`host index must be 1–${MAX_HOST_INDEX}, got ${index}`)
}

/** Throws unless `name` can name a lab host (lower-case letters, digits, `_`; not the bridge's suffix). */
export function checkHostName (name: string): void {
  if (!HOST_NAME_RE.test(name) || name === BRIDGE_SUFFIX) {
    throw new InvalidArgumentError(`lab host name must be 1–20 of a-z0-9_ (not '${BRIDGE_SUFFIX}'), got ${JSON.stringify(name)}`)
  }
}

/** `roostlab-<ownerPid>-<labId>-`: the prefix of every namespace of one lab. */
export function labNetnsPrefix (ownerPid: number, labId: string): string {
  checkLabId(labId)
  return `${LAB_NETNS_PREFIX}${ownerPid}-${labId}-`
}

export function hostNetnsName (ownerPid: number, labId: string, host: string): string {
  checkHostName(host)
  return labNetnsPrefix(ownerPid, labId) + host
}

export function bridgeNetnsName (ownerPid: number, labId: string): string {
  return labNetnsPrefix(ownerPid, labId) + BRIDGE_SUFFIX
}

/** The host's end of its veth, inside the host's namespace: `rl<labId>h<nn>`. */
export function hostIfname (labId: string, index: number): string {
  checkLabId(labId)
  checkIndex(index)
  return `rl${labId}h${String(index).padStart(2, '0')}`
}

/** The bridge's end of host `index`'s veth, inside the bridge namespace: `rl<labId>b<nn>`. */
export function bridgePortIfname (labId: string, index: number): string {
  checkLabId(labId)
  checkIndex(index)
  return `rl${labId}b${String(index).padStart(2, '0')}`
}

/** The bridge device: `rl<labId>br`. */
export function bridgeIfname (labId: string): string {
  checkLabId(labId)
  return `rl${labId}${BRIDGE_SUFFIX}`
}

/** Host `index`'s IPv4 address inside its namespace. */
export function hostAddress (index: number): string {
  checkIndex(index)
  return `10.77.0.${10 + index}`
}

/** The parts of a lab namespace's name, or null when it is not one. */
export function parseLabNetns (name: string): { ownerPid: number, labId: string, host: string } | null {
  const m = NETNS_RE.exec(name)
  if (m === null) return null
  return { ownerPid: Number(m[1]), labId: m[2] ?? '', host: m[3] ?? '' }
}
