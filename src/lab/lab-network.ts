import { LabError, LabUnsupportedError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import { findTool, isNotFound, run, stderrOf } from './lab-exec.js'
import {
  BRIDGE_ADDRESS, bridgeIfname, bridgeNetnsName, bridgePortIfname, hostAddress, hostIfname, hostNetnsName, LAB_PREFIX_LENGTH
} from './lab-names.js'

/** Name of the nftables table that carries a host's packet loss (one per host namespace). */
const IMPAIR_TABLE = 'roostlab_impair'
/** Name of the nftables table that cuts a host off from some of the others (a partition). */
const BLOCK_TABLE = 'roostlab_block'

export interface LabNetworkInit {
  ownerPid: number
  labId: string
}

/** One host's place on the lab network. */
export interface HostLink {
  netns: string
  /** The veth end inside the host's namespace. */
  ifname: string
  /** The veth end inside the bridge namespace (a bridge port). */
  bridgePort: string
  address: string
}

/**
 * The lab's namespaces and links: a bridge namespace holding the bridge (10.77.0.1/24) and one
 * namespace per host joined to it by a veth. Nothing is created in the root namespace.
 */
export interface LabNetwork {
  readonly bridgeNetns: string
  /** Namespaces this network created and has not removed yet. */
  namespaces: () => string[]
  /** Creates the bridge namespace and the bridge (idempotent). */
  createBridge: () => Promise<void>
  /** Creates host `name`'s namespace with `lo` up and its veth on the bridge. */
  addHost: (name: string, index: number) => Promise<HostLink>
  /** Takes the host's bridge port down (so its veth loses carrier: nothing in, nothing out). */
  cutLink: (link: HostLink) => Promise<void>
  restoreLink: (link: HostLink) => Promise<void>
  /** Delay (netem; LabUnsupportedError where the kernel lacks it) and/or loss (nftables) on the host's veth. */
  impair: (link: HostLink, opts: { delayMs?: number, lossPct?: number }) => Promise<void>
  clearImpair: (link: HostLink) => Promise<void>
  /** Drops everything the host exchanges with these addresses (in and out; the bridge stays reachable). */
  block: (link: HostLink, addresses: string[]) => Promise<void>
  /** Ends {@link LabNetwork.block} (idempotent). */
  unblock: (link: HostLink) => Promise<void>
  /** Removes one namespace this network made (its veth goes with it). Idempotent. */
  removeNamespace: (netns: string) => Promise<void>
}

/** The `ip` binary, or LabUnsupportedError. */
export function ipTool (): string {
  const p = findTool('ip')
  if (p === undefined) throw new LabUnsupportedError('iproute2 `ip` not found (apt-get install iproute2)')
  return p
}

/** Runs `cmd args…` inside namespace `netns` (`ip netns exec`) and resolves with stdout. */
export async function execInNetns (netns: string, cmd: string, args: string[], input?: string): Promise<string> {
  return await run(ipTool(), ['netns', 'exec', netns, cmd, ...args], input)
}

/** Deletes namespace `netns` (ignoring one that is gone). */
export async function deleteNetns (netns: string): Promise<void> {
  try {
    await run(ipTool(), ['netns', 'del', netns])
  } catch (err) {
    if (!isNotFound(err)) throw err
  }
}

/** Names of every network namespace on the machine. */
export async function listNetns (): Promise<string[]> {
  const out = await run(ipTool(), ['netns', 'list'])
  return out.split('\n').map(l => l.trim().split(/\s+/)[0] ?? '').filter(n => n !== '')
}

function lossRules (ifname: string, pct: number): string {
  // numgen yields 0…99 and nft rejects `< 100`: total loss is a plain drop.
  const match = pct >= 100 ? '' : ` numgen random mod 100 < ${pct}`
  return [
    `add table inet ${IMPAIR_TABLE}`,
    `delete table inet ${IMPAIR_TABLE}`,
    `table inet ${IMPAIR_TABLE} {`,
    `  chain in { type filter hook input priority -300; iifname "${ifname}"${match} drop; }`,
    `  chain out { type filter hook output priority -300; oifname "${ifname}"${match} drop; }`,
    '}'
  ].join('\n') + '\n'
}

function blockRules (ifname: string, addresses: string[]): string {
  const set = `{ ${addresses.join(', ')} }`
  return [
    `add table inet ${BLOCK_TABLE}`,
    `delete table inet ${BLOCK_TABLE}`,
    `table inet ${BLOCK_TABLE} {`,
    `  chain in { type filter hook input priority -310; iifname "${ifname}" ip saddr ${set} drop; }`,
    `  chain out { type filter hook output priority -310; oifname "${ifname}" ip daddr ${set} drop; }`,
    '}'
  ].join('\n') + '\n'
}

function nftTool (what: string): string {
  const nft = findTool('nft')
  if (nft === undefined) throw new LabUnsupportedError(`${what} needs nftables: \`nft\` not found (apt-get install nftables)`)
  return nft
}

export function createLabNetwork (init: LabNetworkInit, components: { logger: Logger }): LabNetwork {
  const log = components.logger
  const bridgeNetns = bridgeNetnsName(init.ownerPid, init.labId)
  const bridge = bridgeIfname(init.labId)
  const created = new Set<string>()

  async function ip (args: string[], input?: string): Promise<string> {
    return await run(ipTool(), args, input)
  }

  async function addNetns (netns: string): Promise<void> {
    await ip(['netns', 'add', netns])
    created.add(netns)
  }

  async function setDelay (link: HostLink, delayMs: number): Promise<void> {
    const tc = findTool('tc')
    if (tc === undefined) throw new LabUnsupportedError('delay needs `tc` (iproute2) and the netem qdisc; `tc` not found')
    try {
      await execInNetns(link.netns, tc, ['qdisc', 'replace', 'dev', link.ifname, 'root', 'netem', 'delay', `${delayMs}ms`])
    } catch (err) {
      if (/qdisc kind is unknown|No such file or directory|Unknown qdisc/i.test(stderrOf(err))) {
        throw new LabUnsupportedError('delay needs the netem qdisc (sch_netem), which this kernel lacks', { stderr: stderrOf(err) })
      }
      throw err
    }
  }

  async function setLoss (link: HostLink, pct: number): Promise<void> {
    await execInNetns(link.netns, nftTool('packet loss'), ['-f', '-'], lossRules(link.ifname, pct))
  }

  return {
    bridgeNetns,
    namespaces: () => [...created],

    async createBridge () {
      if (created.has(bridgeNetns)) return
      await addNetns(bridgeNetns)
      await ip(['-n', bridgeNetns, '-batch', '-'], [
        'link set lo up',
        `link add ${bridge} type bridge`,
        `addr add ${BRIDGE_ADDRESS}/${LAB_PREFIX_LENGTH} dev ${bridge}`,
        `link set ${bridge} up`
      ].join('\n') + '\n')
      log.debug({ netns: bridgeNetns, bridge }, 'lab bridge created')
    },

    async addHost (name, index) {
      if (!created.has(bridgeNetns)) throw new LabError('the lab bridge does not exist yet')
      const link: HostLink = {
        netns: hostNetnsName(init.ownerPid, init.labId, name),
        ifname: hostIfname(init.labId, index),
        bridgePort: bridgePortIfname(init.labId, index),
        address: hostAddress(index)
      }
      await addNetns(link.netns)
      await ip(['-n', bridgeNetns, 'link', 'add', link.bridgePort, 'type', 'veth', 'peer', 'name', link.ifname, 'netns', link.netns])
      await ip(['-n', bridgeNetns, 'link', 'set', link.bridgePort, 'master', bridge, 'up'])
      await ip(['-n', link.netns, '-batch', '-'], [
        'link set lo up',
        `addr add ${link.address}/${LAB_PREFIX_LENGTH} dev ${link.ifname}`,
        `link set ${link.ifname} up`
      ].join('\n') + '\n')
      log.debug({ host: name, ...link }, 'lab host network created')
      return link
    },

    async cutLink (link) {
      await ip(['-n', bridgeNetns, 'link', 'set', link.bridgePort, 'down'])
    },

    async restoreLink (link) {
      await ip(['-n', bridgeNetns, 'link', 'set', link.bridgePort, 'up'])
    },

    async impair (link, opts) {
      const delayMs = opts.delayMs ?? 0
      const lossPct = opts.lossPct ?? 0
      if (!Number.isFinite(delayMs) || delayMs < 0) throw new LabError(`delayMs must be ≥ 0, got ${delayMs}`)
      if (!Number.isInteger(lossPct) || lossPct < 0 || lossPct > 100) throw new LabError(`lossPct must be an integer 0–100, got ${lossPct}`)
      // Delay first: where netem is missing nothing has been changed when the error is thrown.
      if (delayMs > 0) await setDelay(link, delayMs)
      if (lossPct > 0) await setLoss(link, lossPct)
    },

    async clearImpair (link) {
      const nft = findTool('nft')
      if (nft !== undefined) {
        await execInNetns(link.netns, nft, ['delete', 'table', 'inet', IMPAIR_TABLE]).catch((err: unknown) => {
          if (!isNotFound(err)) throw err
        })
      }
      const tc = findTool('tc')
      if (tc !== undefined) {
        // Deleting the root qdisc where there is only the default one fails harmlessly.
        await execInNetns(link.netns, tc, ['qdisc', 'del', 'dev', link.ifname, 'root']).catch(() => {})
      }
    },

    async block (link, addresses) {
      if (addresses.length === 0) throw new LabError('block needs at least one address')
      for (const a of addresses) if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) throw new LabError(`not an IPv4 address: ${a}`)
      await execInNetns(link.netns, nftTool('a partition'), ['-f', '-'], blockRules(link.ifname, addresses))
    },

    async unblock (link) {
      const nft = findTool('nft')
      if (nft === undefined) return
      await execInNetns(link.netns, nft, ['delete', 'table', 'inet', BLOCK_TABLE]).catch((err: unknown) => {
        if (!isNotFound(err)) throw err
      })
    },

    async removeNamespace (netns) {
      await deleteNetns(netns)
      created.delete(netns)
    }
  }
}
