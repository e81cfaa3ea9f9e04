import type { Logger } from '../../src/log/logger.js'
import type { Milestones } from '../../src/log/milestones.js'
import { loadOrCreateWgKey, type WgKeyPair } from '../../src/mesh/wg-keys.js'
import { createWireguardInterface, type WireguardInterface, type WireguardInterfaceInit } from '../../src/mesh/wireguard-interface.js'
import { addressFor, interfaceInit, readState, type SavedState } from './wireguard-state.js'

/** What the head start prepared: the key, saved state and address it used, and the interface (started or starting). */
export interface HeadStarted {
  key: WgKeyPair
  saved: SavedState
  address: string
  iface: WireguardInterface
}

/**
 * wireguard-go started while the rest of the agent starts (the transport's DHT join, the data
 * plane), handed to `/agent/wireguard` on its first boot. Starting it only once the actor tree
 * was spawned put a wireguard-go start (a process, its socket, its configuration) behind
 * everything else on a loaded host, and a host's tunnel end joins the `wireguard` table only
 * once it is up: with 10 agents on 2 cores that was the last host's ~1.3 s.
 */
export interface WireguardHeadStart {
  /** The first call resolves with what was prepared (undefined if preparing failed: the actor then does it itself); later calls with undefined. */
  take: () => Promise<HeadStarted | undefined>
  /** Stops the interface unless the actor took it (an agent stopping before its tree booted). */
  stop: () => Promise<void>
}

export interface HeadStartInit {
  cluster: string
  dataDir: string
  ifname: string
  /** The configured UDP port, used when the data dir remembers none. */
  listenPort?: number
  faults?: boolean
}

export interface HeadStartComponents {
  logger: Logger
  /** `wireguard.head-start` when it begins, `wireguard-go.up` once its interface is configured. */
  milestones: Pick<Milestones, 'reach'>
  createInterface?: (init: WireguardInterfaceInit, components: { logger: Logger }) => WireguardInterface
}

export function startWireguardHeadStart (init: HeadStartInit, components: HeadStartComponents): WireguardHeadStart {
  const log = components.logger
  components.milestones.reach('wireguard.head-start')
  const prepared = (async (): Promise<HeadStarted> => {
    const key = await loadOrCreateWgKey(init.dataDir)
    const saved = await readState(init.dataDir)
    const { address } = addressFor(init.cluster, key.publicKey, saved, init.faults === true)
    const make = components.createInterface ?? createWireguardInterface
    const iface = make(interfaceInit(init.cluster, init.ifname, key.privateKey, saved, address, init.listenPort), { logger: log })
    // The actor's own start() waits for this one and retries it if it failed.
    iface.start().then(() => { components.milestones.reach('wireguard-go.up') }, (err: unknown) => { log.warn({ err }, 'wireguard-go head start failed; the wireguard actor starts it again') })
    return { key, saved, address, iface }
  })()
  prepared.catch(() => {})
  let taken = false
  return {
    async take () {
      if (taken) return undefined
      taken = true
      return await prepared.catch(() => undefined)
    },
    async stop () {
      if (taken) return
      taken = true
      const p = await prepared.catch(() => undefined)
      await p?.iface.stop().catch((err: unknown) => { log.warn({ err }, 'wireguard interface stop failed') })
    }
  }
}
