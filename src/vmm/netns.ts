import { createHash, randomInt } from 'node:crypto'
import { InvalidArgumentError, VmmError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import { ip, isNotFound } from './ip-command.js'
import { addressesFor, indexOfVethAddress, NETNS_INDEX_COUNT } from './netns-addresses.js'

export { addressesFor, NETNS_INDEX_COUNT, type NetnsAddresses } from './netns-addresses.js'
export { createTap, type Tap } from './netns-tap.js'

/** One machine's network namespace, joined to the host by a veth pair. */
export interface Netns {
  /** The namespace (`ip netns` name), `roost-<prefix>-<short machine id>`. */
  name: string
  /** Host end of the veth pair, `rv<8 hex>` (derived from `name`). */
  hostIf: string
  /** Namespace end of the veth pair: always `eth0`. */
  nsIf: string
  hostAddress: string
  nsAddress: string
  /** Which /30s are this namespace's (see {@link addressesFor}); unique machine-wide while it exists. */
  index: number
}

export interface NetnsAllocatorInit {
  /** Names this allocator's namespaces (1–12 of a-z0-9), so agents sharing a machine do not collide. */
  prefix: string
}

/**
 * Makes and removes per-machine namespaces (root only). Indices are chosen among those no
 * interface on the machine uses, so allocators of several agents on one machine do not collide.
 */
export interface NetnsAllocator {
  readonly prefix: string
  /** Creates the namespace, the veth pair with its /30, `lo` up and a default route via the host end. */
  create: (machineId: string) => Promise<Netns>
  /** Removes the namespace and its veth pair (and so the routes through it). Idempotent. */
  remove: (name: string) => Promise<void>
  /** The namespace as it exists now, or null. */
  lookup: (name: string) => Promise<Netns | null>
  /** Names of this prefix's namespaces that exist. */
  list: () => Promise<string[]>
  /** Removes this prefix's namespaces that are not in `knownNames`; returns the names removed. */
  cleanupStale: (knownNames: Iterable<string>) => Promise<string[]>
}

export const NETNS_IF = 'eth0'
const PREFIX_RE = /^[a-z0-9]{1,12}$/
const MAX_ATTEMPTS = 5

/** The host-side veth name for namespace `name` (≤ 15 characters, like every interface name). */
export function hostIfFor (name: string): string {
  return 'rv' + createHash('sha256').update(name).digest('hex').slice(0, 8)
}

/** Names of every network namespace on the machine. */
export async function listNamespaces (): Promise<string[]> {
  const out = await ip(['netns', 'list'])
  return out.split('\n').map(l => l.trim().split(/\s+/)[0] ?? '').filter(n => n !== '')
}

/** Indices whose veth /30 some interface in the host namespace holds. */
async function indicesInUse (): Promise<Map<number, string[]>> {
  const links = JSON.parse(await ip(['-j', '-4', 'addr', 'show'])) as Array<{ ifname: string, addr_info?: Array<{ local?: string }> }>
  const used = new Map<number, string[]>()
  for (const link of links) {
    for (const a of link.addr_info ?? []) {
      const i = a.local === undefined ? null : indexOfVethAddress(a.local)
      if (i !== null) used.set(i, [...(used.get(i) ?? []), link.ifname])
    }
  }
  return used
}

export function createNetnsAllocator (init: NetnsAllocatorInit, components: { logger: Logger }): NetnsAllocator {
  if (!PREFIX_RE.test(init.prefix)) throw new InvalidArgumentError(`netns prefix must be 1–12 of a-z0-9, got ${JSON.stringify(init.prefix)}`)
  const log = components.logger
  const namePrefix = `roost-${init.prefix}-`
  /** Indices and names being created by this allocator (not visible in the kernel yet). */
  const pendingIndices = new Set<number>()
  const pendingNames = new Set<string>()

  function pickIndex (used: Map<number, string[]>): number {
    const start = randomInt(NETNS_INDEX_COUNT)
    for (let k = 0; k < NETNS_INDEX_COUNT; k++) {
      const i = (start + k) % NETNS_INDEX_COUNT
      if (!used.has(i) && !pendingIndices.has(i)) return i
    }
    throw new VmmError(`no free netns index (all ${NETNS_INDEX_COUNT} in use)`)
  }

  function pickName (machineId: string, existing: Set<string>, index: number): string {
    const short = machineId.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 8) || 'm'
    const base = `${namePrefix}${short}`
    const name = existing.has(base) || pendingNames.has(base) ? `${base}-${index}` : base
    if (existing.has(name) || pendingNames.has(name)) throw new VmmError(`network namespace ${name} exists already`)
    return name
  }

  async function remove (name: string): Promise<void> {
    try {
      await ip(['link', 'del', hostIfFor(name)])
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
    try {
      await ip(['netns', 'del', name])
    } catch (err) {
      if (!isNotFound(err)) throw err
    }
  }

  async function build (name: string, hostIf: string, index: number): Promise<Netns> {
    const a = addressesFor(index)
    await ip(['netns', 'add', name])
    await ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', NETNS_IF, 'netns', name])
    await ip(['-batch', '-'], `addr add ${a.hostAddress}/30 dev ${hostIf}\nlink set ${hostIf} up\n`)
    await ip(['-n', name, '-batch', '-'], [
      `addr add ${a.nsAddress}/30 dev ${NETNS_IF}`,
      `link set ${NETNS_IF} up`,
      'link set lo up',
      `route add default via ${a.hostAddress}`
    ].join('\n') + '\n')
    return { name, hostIf, nsIf: NETNS_IF, hostAddress: a.hostAddress, nsAddress: a.nsAddress, index }
  }

  async function create (machineId: string): Promise<Netns> {
    for (let attempt = 1; ; attempt++) {
      const [used, existing] = await Promise.all([indicesInUse(), listNamespaces()])
      const index = pickIndex(used)
      const name = pickName(machineId, new Set(existing), index)
      const hostIf = hostIfFor(name)
      pendingIndices.add(index)
      pendingNames.add(name)
      try {
        const ns = await build(name, hostIf, index)
        // Another agent may have taken the same index between our scan and our address.
        const others = ((await indicesInUse()).get(index) ?? []).filter(n => n !== hostIf)
        if (others.length === 0) {
          log.debug({ netns: name, index, hostIf }, 'network namespace created')
          return ns
        }
        if (attempt >= MAX_ATTEMPTS) throw new VmmError(`netns index ${index} is also used by ${others.join(', ')}`)
        log.warn({ netns: name, index, others }, 'netns index taken concurrently; retrying')
        await remove(name)
      } catch (err) {
        await remove(name).catch((e: unknown) => { log.warn({ err: e, netns: name }, 'could not clean up after a failed netns create') })
        throw err instanceof VmmError ? err : new VmmError(`creating network namespace ${name}: ${(err as Error).message}`)
      } finally {
        pendingIndices.delete(index)
        pendingNames.delete(name)
      }
    }
  }

  async function lookup (name: string): Promise<Netns | null> {
    if (!(await listNamespaces()).includes(name)) return null
    const hostIf = hostIfFor(name)
    let out: string
    try {
      out = await ip(['-j', '-4', 'addr', 'show', 'dev', hostIf])
    } catch (err) {
      if (isNotFound(err)) return null
      throw err
    }
    const links = JSON.parse(out) as Array<{ addr_info?: Array<{ local?: string }> }>
    for (const a of links[0]?.addr_info ?? []) {
      const index = a.local === undefined ? null : indexOfVethAddress(a.local)
      if (index === null) continue
      const addrs = addressesFor(index)
      return { name, hostIf, nsIf: NETNS_IF, hostAddress: addrs.hostAddress, nsAddress: addrs.nsAddress, index }
    }
    return null
  }

  async function list (): Promise<string[]> {
    return (await listNamespaces()).filter(n => n.startsWith(namePrefix))
  }

  return {
    prefix: init.prefix,
    create,
    remove,
    lookup,
    list,
    async cleanupStale (knownNames) {
      const known = new Set(knownNames)
      const removed: string[] = []
      for (const name of await list()) {
        if (known.has(name) || pendingNames.has(name)) continue
        await remove(name)
        removed.push(name)
      }
      if (removed.length > 0) log.info({ removed }, 'removed stale network namespaces')
      return removed
    }
  }
}
