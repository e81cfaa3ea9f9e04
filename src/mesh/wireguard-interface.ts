import type { ChildProcess } from 'node:child_process'
import { MeshError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import { ip } from '../vmm/ip-command.js'
import { parseIpv6 } from './mesh-address.js'
import { wg } from './wg-command.js'
import { parseWgDump, type WgInterfaceStatus } from './wg-dump.js'
import { isWgKey, wgPublicKeyOf } from './wg-keys.js'
import { uapiGet, uapiSet } from './wg-uapi.js'
import { initiatesHandshake, uapiConfigSet, uapiPeersSet, uapiPrimeSets, uapiRecreate, validatePeers, type WgPeerSpec } from './wg-peers.js'
import { killChild, linkExists, removeStale, spawnWireguardGo, waitForSocket } from './wireguard-process.js'

export type { WgPeerSpec } from './wg-peers.js'

export const DEFAULT_MTU = 1420
export const DEFAULT_RESTART_BACKOFF_MS = [100, 250, 500, 1000, 2000]
/** How long the side that does not initiate (initiatesHandshake) waits for the other's handshake before it starts one itself. */
export const DEFAULT_RESPONDER_WAIT_MS = 200
/** While a peer this side initiates with has no handshake, it is re-created after each of these waits (then wireguard-go's own retries go on). */
export const DEFAULT_RETRY_HANDSHAKE_MS = [1_000, 1_000, 1_000, 2_000, 2_000]
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/

export interface WireguardInterfaceInit {
  /** ≤ 15 characters, unique on the machine (wireguard-go's control socket is machine-wide). */
  ifname: string
  /** Base64; reaches wireguard-go over its root-only control socket, never on argv or in a file. */
  privateKey: string
  /** 0/undefined: wireguard-go picks one, remembered so a restart reuses it. */
  listenPort?: number
  /** This host's mesh /128 (address only). */
  address: string
  /** The cluster's /48, routed into the interface. */
  routePrefix: string
  /** Default 1420. */
  mtu?: number
  /** Waits before each respawn attempt after wireguard-go dies; default [100, 250, 500, 1000, 2000]. */
  restartBackoffMs?: number[]
  /**
   * A peer added while the interface runs is handshaken by one side only: the other holds the
   * peer's keepalive off for this long (default 200 ms), then turns it on, which starts a
   * handshake only if none came (the other side's first initiation may have been dropped
   * before this side knew it).
   */
  responderWaitMs?: number
  /**
   * A peer this side initiates with and that has no handshake yet is re-created after each of
   * these waits (default 1, 1, 1, 2, 2 s): wireguard-go retries an unanswered initiation only
   * after 5 s, and an initiation sent before the other side knew this one, lost, or crossed
   * with the other side's is unanswered.
   */
  retryHandshakeMs?: number[]
}

export type WireguardEvent = 'exit' | 'restart' | 'error'

/** A userspace WireGuard interface run by our own `wireguard-go` child, respawned when it dies. */
export interface WireguardInterface {
  readonly ifname: string
  /**
   * Idempotent: removes a stale interface/socket of this name, spawns `wireguard-go -f IF`,
   * waits for its control socket, sets key, port and peers, then address, MTU, link up and route.
   */
  start: () => Promise<void>
  /** Idempotent: kills our wireguard-go, waits for its exit, removes the interface if left. */
  stop: () => Promise<void>
  /**
   * The desired full peer set, applied as one `wg set` diff against the last applied set.
   * Remembered (a start or restart applies it); calls are serialised and the last one wins.
   */
  setPeers: (peers: WgPeerSpec[]) => Promise<void>
  /** `wg show IF dump`, parsed (no private key). */
  status: () => Promise<WgInterfaceStatus>
  /** The UDP port, known after start (0 before). */
  listenPort: () => number
  pid: () => number | undefined
  /** How many times wireguard-go was respawned after dying. */
  restarts: () => number
  /** How many peers were re-created because their handshake did not come (retryHandshakeMs). */
  handshakeRetries: () => number
  /**
   * 'exit': wireguard-go died unexpectedly ({ code, signal, pid }); 'restart': it was respawned
   * and key, port, address, route and peers reapplied ({ pid, restarts, attempt }); 'error':
   * every attempt of the backoff list failed ({ attempts, err }); start() may be called again.
   */
  on: (event: WireguardEvent, fn: (info: Record<string, unknown>) => void) => void
}

function validateInit (init: WireguardInterfaceInit): void {
  if (!IFNAME_RE.test(init.ifname)) throw new MeshError(`interface name must be 1–15 of [A-Za-z0-9_.-], got ${JSON.stringify(init.ifname)}`)
  if (!isWgKey(init.privateKey)) throw new MeshError('privateKey is not a WireGuard key')
  if (parseIpv6(init.address) === null) throw new MeshError(`address must be an IPv6 address, got ${JSON.stringify(init.address)}`)
  const [net, len] = init.routePrefix.split('/')
  if (net === undefined || parseIpv6(net) === null || !/^\d{1,3}$/.test(len ?? '') || Number(len) > 128) {
    throw new MeshError(`routePrefix must be an IPv6 CIDR, got ${JSON.stringify(init.routePrefix)}`)
  }
  const port = init.listenPort ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MeshError(`listenPort must be 0–65535, got ${port}`)
}

export function createWireguardInterface (init: WireguardInterfaceInit, components: { logger: Logger }): WireguardInterface {
  validateInit(init)
  const ownPublicKey = wgPublicKeyOf(init.privateKey)
  const { ifname } = init
  const log = components.logger.child({ component: 'wireguard-interface', ifname })
  const backoff = init.restartBackoffMs ?? DEFAULT_RESTART_BACKOFF_MS
  const mtu = init.mtu ?? DEFAULT_MTU
  const listeners: Record<WireguardEvent, Array<(info: Record<string, unknown>) => void>> = { exit: [], restart: [], error: [] }
  let port = init.listenPort ?? 0
  let desired: WgPeerSpec[] = []
  /** What wireguard-go holds now; null when unknown (a `wg set` failed half way): the next apply replaces all. */
  let applied: WgPeerSpec[] | null = []
  let child: ChildProcess | undefined
  /** Set once `child` is fully configured: only its death is an unexpected exit (a failing start reports itself). */
  let up = false
  /** Ends the current restart backoff wait early (stop). */
  let wakeBackoff: (() => void) | undefined
  let wanted = false
  let everStarted = false
  let restartCount = 0
  let chain: Promise<unknown> = Promise.resolve()
  const responderWaitMs = init.responderWaitMs ?? DEFAULT_RESPONDER_WAIT_MS
  const retryHandshakeMs = init.retryHandshakeMs ?? DEFAULT_RETRY_HANDSHAKE_MS
  let retried = 0
  /** Peers whose keepalive is held off (this side waits for their handshake), by public key. */
  const holding = new Set<string>()
  const holdTimers = new Set<NodeJS.Timeout>()

  const serial = async <T>(fn: () => Promise<T>): Promise<T> => {
    const p = chain.then(fn)
    chain = p.catch(() => {})
    return await p
  }

  const emit = (event: WireguardEvent, info: Record<string, unknown>): void => {
    for (const fn of listeners[event]) {
      try { fn(info) } catch (err) { log.error({ err, event }, 'wireguard event listener threw') }
    }
  }

  // A function, not `child?.pid` inline: TS narrows `child` across the awaits in restartLoop.
  const currentPid = (): number | undefined => child?.pid

  const onExit = (c: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void => {
    if (c !== child) return
    child = undefined
    applied = []
    const wasUp = up
    up = false
    if (!wanted || !wasUp) return
    log.warn({ code, signal, pid: c.pid }, 'wireguard-go exited unexpectedly')
    emit('exit', { code, signal, pid: c.pid })
    void serial(restartLoop)
  }

  /** New peers handshake at once, so whichever side learnt of the other last need not wait for a rekey. */
  const primeHandshakes = async (peers: WgPeerSpec[]): Promise<void> => {
    const prime = uapiPrimeSets(peers)
    if (prime === null) return
    try {
      for (const body of prime) await uapiSet(ifname, body)
    } catch (err) {
      // Only a speed-up: the handshakes still happen on first traffic.
      log.warn({ err }, 'could not prime handshakes')
    }
  }

  const bringUp = async (): Promise<void> => {
    holding.clear()
    await removeStale(ifname, log)
    const c = spawnWireguardGo(ifname, log)
    child = c
    up = false
    let spawnError: Error | undefined
    c.once('error', err => { spawnError = err })
    c.once('exit', (code, signal) => { onExit(c, code, signal) })
    try {
      await waitForSocket(ifname, c)
      if (spawnError !== undefined) throw spawnError
      const peers = desired
      await uapiSet(ifname, uapiConfigSet(init.privateKey, port, peers))
      applied = peers
      if (port === 0) port = (await uapiGet(ifname)).listenPort
      await ip(['-batch', '-'], [
        `address replace ${init.address}/128 dev ${ifname} nodad`,
        `link set dev ${ifname} mtu ${mtu} up`,
        `route replace ${init.routePrefix} dev ${ifname}`
      ].join('\n') + '\n')
      await primeHandshakes(peers)
      if (child !== c) throw new MeshError(`wireguard-go for ${ifname} exited during start`, { ifname })
      up = true
      everStarted = true
      log.info({ pid: c.pid, port, address: init.address, peers: peers.length }, 'wireguard interface up')
    } catch (err) {
      if (child === c) child = undefined
      await killChild(c)
      throw spawnError !== undefined ? new MeshError(`cannot run wireguard-go: ${spawnError.message}`, { ifname }) : err
    }
  }

  const restartLoop = async (): Promise<void> => {
    let lastErr: unknown
    for (let attempt = 1; attempt <= backoff.length; attempt++) {
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, backoff[attempt - 1])
        wakeBackoff = () => { clearTimeout(timer); resolve() }
      })
      wakeBackoff = undefined
      if (!wanted || child !== undefined) return
      try {
        await bringUp()
        restartCount++
        emit('restart', { pid: currentPid(), restarts: restartCount, attempt })
        return
      } catch (err) {
        lastErr = err
        log.warn({ err, attempt }, 'wireguard-go respawn failed')
      }
    }
    log.error({ err: lastErr, attempts: backoff.length }, 'wireguard-go keeps failing; giving up')
    emit('error', { attempts: backoff.length, err: lastErr })
  }

  /** The peers as wireguard-go gets them now: the held ones with their keepalive off. */
  const effective = (peers: WgPeerSpec[]): WgPeerSpec[] => peers.map(p => holding.has(p.publicKey) && (p.keepaliveS ?? 0) > 0 ? { ...p, keepaliveS: 0 } : p)

  /** After the wait: keepalives back on (which starts a handshake where none came), a handshake now with peers that have none. */
  const release = (keys: string[]): void => {
    const timer = setTimeout(() => {
      holdTimers.delete(timer)
      for (const k of keys) holding.delete(k)
      serial(async () => {
        await applyPeers()
        await primeHandshakes(desired.filter(p => keys.includes(p.publicKey) && (p.keepaliveS ?? 0) === 0))
      }).catch((err: unknown) => { log.warn({ err }, 'could not start the handshakes of waiting peers') })
    }, responderWaitMs)
    holdTimers.add(timer)
  }

  /** Re-creates the peers among `keys` that still have no handshake, after each wait of retryHandshakeMs. */
  const retryHandshakes = (keys: string[], round = 0): void => {
    const wait = retryHandshakeMs[round]
    if (keys.length === 0 || wait === undefined) return
    const timer = setTimeout(() => {
      holdTimers.delete(timer)
      serial(async () => {
        const current = applied
        if (child === undefined || current === null) return
        const status = await uapiGet(ifname)
        const silent = current.filter(p => keys.includes(p.publicKey) && status.peers.find(x => x.publicKey === p.publicKey)?.latestHandshake === 0)
        if (silent.length === 0) return
        await uapiSet(ifname, uapiRecreate(silent))
        retried += silent.length
        log.debug({ peers: silent.length, round }, 'no handshake yet: peers re-created to handshake again now')
        retryHandshakes(silent.map(p => p.publicKey), round + 1)
      }).catch((err: unknown) => { log.warn({ err }, 'could not retry handshakes') })
    }, wait)
    holdTimers.add(timer)
  }

  const applyPeers = async (): Promise<void> => {
    if (child === undefined) return
    if (applied === null) {
      holding.clear()
      await uapiSet(ifname, uapiConfigSet(init.privateKey, port, desired))
      applied = desired
      return
    }
    const known = new Set(applied.map(p => p.publicKey))
    const added = desired.filter(p => !known.has(p.publicKey))
    const waiting = added.filter(p => !initiatesHandshake(ownPublicKey, p.publicKey)).map(p => p.publicKey)
    for (const k of waiting) holding.add(k)
    for (const k of holding) if (!desired.some(p => p.publicKey === k)) holding.delete(k)
    const target = effective(desired)
    const body = uapiPeersSet(applied, target)
    if (body === '') return
    try {
      await uapiSet(ifname, body)
      applied = target
    } catch (err) {
      applied = null
      throw err
    }
    if (waiting.length > 0) release(waiting)
    const initiating = added.filter(p => initiatesHandshake(ownPublicKey, p.publicKey))
    await primeHandshakes(initiating)
    retryHandshakes(initiating.map(p => p.publicKey))
  }

  return {
    ifname,
    async start () {
      await serial(async () => {
        wanted = true
        if (child !== undefined) return
        try {
          await bringUp()
        } catch (err) {
          wanted = false
          throw err
        }
      })
    },
    async stop () {
      wanted = false
      wakeBackoff?.()
      for (const t of holdTimers) clearTimeout(t)
      holdTimers.clear()
      holding.clear()
      await serial(async () => {
        const c = child
        child = undefined
        up = false
        applied = []
        if (c !== undefined) await killChild(c)
        if (c === undefined && !everStarted) return
        // The TUN goes with its process; this catches one left by a wireguard-go we could not kill.
        if (await linkExists(ifname)) await ip(['link', 'del', 'dev', ifname]).catch(() => {})
        await removeStale(ifname, log)
        log.info('wireguard interface stopped')
      })
    },
    async setPeers (peers) {
      validatePeers(peers)
      desired = peers.map(p => ({ ...p, allowedIps: [...p.allowedIps] }))
      await serial(applyPeers)
    },
    async status () {
      if (child === undefined) throw new MeshError(`wireguard interface ${ifname} is not running`, { ifname })
      try {
        return { ...await uapiGet(ifname), publicKey: ownPublicKey }
      } catch {
        return parseWgDump(await wg(['show', ifname, 'dump']))
      }
    },
    listenPort: () => port,
    pid: currentPid,
    restarts: () => restartCount,
    handshakeRetries: () => retried,
    on (event, fn) {
      listeners[event].push(fn)
    }
  }
}
