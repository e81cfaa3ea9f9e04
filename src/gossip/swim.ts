import type { Logger } from '../log/logger.js'
import { createBucketHistogram, LATENCY_BUCKETS, type BucketSnapshot } from '../metrics/bucket-histogram.js'
import type { Clock } from '../runtime/clock.js'
import { BroadcastQueue } from './broadcast-queue.js'
import { createSuspicion, type Suspicion } from './suspicion.js'
import { pushPullInterval, resolveProfile, retransmitLimit, suspicionBounds, type ProfileName, type SwimConfig } from './swim-config.js'
import { ALIVE, DEAD, LEFT, SUSPECT, type MemberMeta, type SwimMessage, type Update } from './swim-messages.js'

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'
const STATE_NAMES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left']

/** What this host knows of one member. */
export interface MemberInfo {
  id: string
  state: MemberState
  incarnation: number
  meta: MemberMeta | undefined
  /** Local ms when the state last changed. */
  changedAt: number
  /** Local ms when it stopped being alive (suspect or dead since), 0 while alive. */
  downSince: number
  /** Smoothed round-trip time of direct probes, ms. */
  rttMs: number | undefined
}

export interface SwimInit {
  id: string
  meta: MemberMeta
  profile?: ProfileName | Partial<SwimConfig>
  /** Starting incarnation; a restarted host should start above any it used before (e.g. from the clock). */
  incarnation?: number
}

export interface SwimComponents {
  clock: Clock
  /** Uniform [0,1); seeded in simulations. */
  random: () => number
  send: (to: string, msg: SwimMessage) => void
  /**
   * Frames from `host` that have reached this process so far, counted as they arrive, before
   * they wait their turn to be handled (Transport.framesFrom). A probed member whose frames keep
   * arriving is alive even when its ack still waits behind them: a flood from it, or a backlog
   * here, must not get it suspected. Absent: only acks count.
   */
  framesFrom?: (host: string) => number
  logger?: Logger
}

export type MemberListener = (member: MemberInfo, previous: MemberState | undefined) => void

/**
 * SWIM failure detection and membership with the Lifeguard refinements: probes of a random
 * member in round-robin order, indirect probes through k others with nacks, suspicion with
 * incarnations that the suspect refutes, suspicion timeouts that shrink with independent
 * confirmations, a local health multiplier that stretches timeouts when this host is the slow
 * one, and dissemination piggybacked on every message plus gossip rounds.
 */
export interface Swim {
  readonly id: string
  readonly config: SwimConfig
  start: () => void
  stop: () => void
  /** Full membership exchange with these hosts (they need not be members yet). */
  join: (seeds: string[]) => void
  /** Tells the cluster this host is leaving, then stops probing. */
  leave: () => void
  receive: (from: string, msg: SwimMessage) => void
  members: () => MemberInfo[]
  member: (id: string) => MemberInfo | undefined
  /** A uniformly random alive or suspect member other than this host. */
  randomLiveMember: () => string | undefined
  incarnation: () => number
  localHealth: () => number
  /** Queues an opaque item (a replicated row) for dissemination under `key`. */
  broadcast: (key: string, payload: unknown, size: number) => void
  onUserItems: (cb: (from: string, items: unknown[]) => void) => void
  onChange: (cb: MemberListener) => void
  /** Updates this host's metadata and spreads it. */
  setMeta: (meta: MemberMeta) => void
  /** Round-trip times of direct probes answered since start (seconds), for metrics. */
  probeRtt: () => BucketSnapshot
}

interface Member {
  id: string
  state: number
  inc: number
  meta: MemberMeta | undefined
  changedAt: number
  downSince: number
  rttMs: number | undefined
  suspicion: Suspicion | undefined
  removeTimer: unknown
  /** Local ms of the last message it sent us itself (undefined: only hearsay so far). */
  heardAt: number | undefined
  /** Local ms when it was last alive again after being suspect or dead. */
  backAt: number | undefined
  /** framesFrom(id) when our current suspicion of it began. */
  heardAtSuspicion: number
}

interface Probe {
  seq: number
  target: string
  sentAt: number
  acked: boolean
  nacks: number
  expectedNacks: number
  timers: unknown[]
  /** framesFrom(target) when the probe was sent. */
  heard: number
  /** The last check before declaring a suspect dead. */
  final?: boolean
}

interface Relay {
  origin: string
  originSeq: number
  timer: unknown
}

/** How long (in probe intervals) a host back from being suspect or dead counts as just back. */
const RECENTLY_BACK_PROBES = 20
const UPDATE_SIZE = 90
const META_SIZE = 120

export function createSwim (init: SwimInit, components: SwimComponents): Swim {
  const cfg = resolveProfile(init.profile)
  const { clock, random, send } = components
  const framesFrom = components.framesFrom
  const heardNow = (host: string): number => framesFrom === undefined ? 0 : framesFrom(host)
  /** Frames from `host` reached us since the count was `count`. */
  const heardAfter = (host: string, count: number): boolean => framesFrom !== undefined && framesFrom(host) > count
  /** Frames from the probed member reached us after the probe went out: it is alive, whatever became of the ack. */
  const heardSince = (p: Probe): boolean => heardAfter(p.target, p.heard)
  const log = components.logger?.child({ component: 'swim' })
  const self = init.id
  let selfInc = init.incarnation ?? 0
  let selfMeta = init.meta
  const members = new Map<string, Member>()
  const queue = new BroadcastQueue()
  const probes = new Map<number, Probe>()
  const relays = new Map<number, Relay>()
  const changeListeners: MemberListener[] = []
  let userItems: (from: string, items: unknown[]) => void = () => {}
  let lhm = 0
  let seq = 0
  let running = false
  let leaving = false
  let probeTimer: unknown
  let gossipTimer: unknown
  let pushPullTimer: unknown
  let reconnectTimer: unknown
  let order: string[] = []
  let orderIndex = 0
  let liveCache: string[] | undefined
  /** Members in state dead (not left): few, and walked often. */
  const dead = new Set<string>()
  const rtt = createBucketHistogram(LATENCY_BUCKETS)

  const live = (): string[] => {
    if (liveCache === undefined) {
      liveCache = []
      for (const m of members.values()) if (m.state <= SUSPECT) liveCache.push(m.id)
    }
    return liveCache
  }
  const clusterSize = (): number => live().length + 1
  const scale = (): number => lhm + 1

  const info = (m: Member): MemberInfo => ({
    id: m.id, state: STATE_NAMES[m.state] as MemberState, incarnation: m.inc, meta: m.meta, changedAt: m.changedAt, downSince: m.downSince, rttMs: m.rttMs
  })
  const selfInfo = (): MemberInfo => ({
    id: self, state: leaving ? 'left' : 'alive', incarnation: selfInc, meta: selfMeta, changedAt: 0, downSince: 0, rttMs: 0
  })

  const emit = (m: Member, previous: number | undefined): void => {
    const wasLive = previous !== undefined && previous <= SUSPECT
    if (wasLive !== (m.state <= SUSPECT)) liveCache = undefined
    const i = info(m)
    const prev = previous === undefined ? undefined : STATE_NAMES[previous]
    for (const cb of changeListeners) {
      try { cb(i, prev) } catch (err) { log?.warn({ err }, 'membership listener failed') }
    }
  }

  const queueUpdate = (u: Update): void => {
    queue.push('u', `m:${u.id}`, u, u.meta === undefined ? UPDATE_SIZE : UPDATE_SIZE + META_SIZE)
  }

  const piggy = (first?: string): { u?: Update[], x?: unknown[] } => {
    if (queue.length === 0) return {}
    const { u, x } = queue.take(cfg.maxPiggybackBytes, retransmitLimit(cfg, clusterSize()), first)
    const out: { u?: Update[], x?: unknown[] } = {}
    if (u.length > 0) out.u = u as Update[]
    if (x.length > 0) out.x = x
    return out
  }

  /**
   * Lifeguard's buddy system: a ping to a member we suspect always tells it so, even after the
   * suspicion has left the broadcast queue, so it can refute at once.
   */
  const withBuddy = (target: string, msg: SwimMessage & { t: 'ping' }): SwimMessage => {
    const m = members.get(target)
    if (m === undefined || m.state !== SUSPECT) return msg
    if (msg.u?.some(u => u.id === target && u.k === SUSPECT) === true) return msg
    return { ...msg, u: [{ k: SUSPECT, id: target, inc: m.inc, by: self }, ...(msg.u ?? [])] }
  }

  const refute = (inc: number): void => {
    selfInc = Math.max(selfInc, inc) + 1
    lhm = Math.min(cfg.maxLocalHealth, lhm + 1)
    queueUpdate({ k: ALIVE, id: self, inc: selfInc, meta: selfMeta })
    log?.debug({ incarnation: selfInc }, 'refuting suspicion')
  }

  const clearSuspicion = (m: Member): void => {
    m.suspicion?.cancel()
    m.suspicion = undefined
  }

  const setState = (m: Member, state: number, inc: number): void => {
    const previous = m.state
    m.state = state
    m.inc = inc
    m.changedAt = clock.now()
    if (state === ALIVE) {
      if (previous !== ALIVE) m.backAt = m.changedAt
      m.downSince = 0
    } else if (m.downSince === 0) m.downSince = m.changedAt
    if (state === DEAD) dead.add(m.id)
    else dead.delete(m.id)
    if (state !== SUSPECT) clearSuspicion(m)
    if (m.removeTimer !== undefined) {
      clock.clearTimeout(m.removeTimer)
      m.removeTimer = undefined
    }
    if (state >= DEAD) {
      m.removeTimer = clock.setTimeout(() => {
        const cur = members.get(m.id)
        if (cur === m && m.state >= DEAD) {
          members.delete(m.id)
          dead.delete(m.id)
          liveCache = undefined
        }
      }, cfg.deadRetentionMs)
    }
    if (previous !== state) emit(m, previous)
  }

  /**
   * The suspicion ran out. One last check first — a direct ping carrying the suspicion and
   * pings through two others — so a member whose refutation never reached us (we were the one
   * cut off, say) answers instead of being declared dead.
   */
  const declareDead = (m: Member): void => {
    if (m.state !== SUSPECT || !running) return
    const p: Probe = { seq: seq++, target: m.id, sentAt: clock.now(), acked: false, nacks: 0, expectedNacks: 0, timers: [], heard: heardNow(m.id), final: true }
    probes.set(p.seq, p)
    send(m.id, withBuddy(m.id, { t: 'ping', seq: p.seq, target: m.id, ...piggy(`m:${m.id}`) }))
    for (const h of pickRandom(2, new Set([m.id]))) send(h, { t: 'ping-req', seq: p.seq, target: m.id })
    p.timers.push(clock.setTimeout(() => {
      probes.delete(p.seq)
      if (m.state !== SUSPECT || members.get(m.id) !== m) return
      // Its frames reached us while we suspected it: its refutation may be waiting behind them.
      if (p.acked || heardSince(p) || heardAfter(m.id, m.heardAtSuspicion)) {
        startSuspicion(m, self)
        return
      }
      setState(m, DEAD, m.inc)
      queueUpdate({ k: DEAD, id: m.id, inc: m.inc, by: self })
      log?.info({ host: m.id, incarnation: m.inc }, 'member declared dead')
    }, cfg.probeTimeoutMs * scale() * 2))
  }

  const startSuspicion = (m: Member, by: string): void => {
    const { minMs, maxMs } = suspicionBounds(cfg, clusterSize())
    m.heardAtSuspicion = heardNow(m.id)
    m.suspicion = createSuspicion({ by, minMs, maxMs, confirmations: cfg.suspicionConfirmations }, {
      clock, onTimeout: () => { declareDead(m) }
    })
  }

  /**
   * Whether a death verdict about `m` is older than what we know: no suspicion can have run its
   * course since `m` last spoke to us, or the host that reached it was down in our view or is
   * just back (a host returning from isolation gossips the deaths it declared while cut off).
   * Such a verdict only makes us suspect `m`, so it can answer, rather than drop it from every
   * route at once.
   */
  const staleVerdict = (m: Member, by: string): boolean => {
    const now = clock.now()
    if (m.heardAt !== undefined && now - m.heardAt < suspicionBounds(cfg, clusterSize()).minMs) return true
    const judge = members.get(by)
    if (judge === undefined) return false
    return judge.state !== ALIVE || (judge.backAt !== undefined && now - judge.backAt < cfg.probeIntervalMs * RECENTLY_BACK_PROBES)
  }

  const apply = (u: Update, from: string): void => {
    if (u.id === self) {
      if (u.k === ALIVE) {
        if (u.inc > selfInc && !leaving) refute(u.inc)
        return
      }
      // An accusation about an incarnation we already refuted is stale (as in memberlist).
      if (!leaving && u.inc >= selfInc) refute(u.inc)
      return
    }
    let m = members.get(u.id)
    switch (u.k) {
      case ALIVE: {
        if (m === undefined) {
          m = { id: u.id, state: ALIVE, inc: u.inc, meta: u.meta, changedAt: clock.now(), downSince: 0, rttMs: undefined, suspicion: undefined, removeTimer: undefined, heardAt: undefined, backAt: undefined, heardAtSuspicion: 0 }
          members.set(u.id, m)
          emit(m, undefined)
          queueUpdate(u)
          return
        }
        if (u.inc <= m.inc) return
        if (u.meta !== undefined) m.meta = u.meta
        setState(m, ALIVE, u.inc)
        queueUpdate({ k: ALIVE, id: u.id, inc: u.inc, meta: m.meta })
        return
      }
      case SUSPECT: {
        if (m === undefined || u.inc < m.inc || m.state >= DEAD) return
        const by = u.by ?? from
        if (m.state === SUSPECT && u.inc === m.inc) {
          if (m.suspicion?.confirm(by) === true) queueUpdate({ k: SUSPECT, id: u.id, inc: u.inc, by })
          return
        }
        setState(m, SUSPECT, u.inc)
        startSuspicion(m, by)
        queueUpdate({ k: SUSPECT, id: u.id, inc: u.inc, by })
        return
      }
      case DEAD:
      case LEFT: {
        if (m === undefined || u.inc < m.inc || m.state >= DEAD) return
        const by = u.by ?? from
        if (u.k === DEAD && staleVerdict(m, by)) {
          apply({ k: SUSPECT, id: u.id, inc: u.inc, by }, from)
          return
        }
        setState(m, u.k, u.inc)
        queueUpdate(u)
        return
      }
      default:
        log?.warn({ update: u }, 'unknown membership update kind')
    }
  }

  /** Our own failed probe: a new suspicion, or an independent confirmation others must hear of. */
  const suspect = (id: string): void => {
    const m = members.get(id)
    if (m === undefined || m.state > SUSPECT) return
    apply({ k: SUSPECT, id, inc: m.inc, by: self }, self)
  }

  const pickRandom = (n: number, exclude: Set<string>): string[] => {
    const pool = live()
    const out: string[] = []
    if (pool.length === 0) return out
    for (let tries = 0; out.length < n && tries < n * 4 + 8; tries++) {
      const id = pool[Math.floor(random() * pool.length)] as string
      if (!exclude.has(id) && !out.includes(id)) out.push(id)
    }
    return out
  }

  const nextTarget = (): string | undefined => {
    for (let pass = 0; pass < 2; pass++) {
      while (orderIndex < order.length) {
        const id = order[orderIndex++] as string
        const m = members.get(id)
        if (m !== undefined && m.state <= SUSPECT) return id
      }
      order = [...live()]
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        const t = order[i] as string
        order[i] = order[j] as string
        order[j] = t
      }
      orderIndex = 0
    }
    return undefined
  }

  const finishProbe = (p: Probe): void => {
    for (const t of p.timers) clock.clearTimeout(t)
    probes.delete(p.seq)
    if (p.acked) {
      lhm = Math.max(0, lhm - 1)
    } else if (heardSince(p)) {
      // Its frames arrive but its ack was not handled in time: the backlog is ours (Lifeguard: we are the slow one).
      lhm = Math.min(cfg.maxLocalHealth, lhm + 1)
    } else {
      if (p.expectedNacks > 0 && p.nacks < p.expectedNacks) lhm = Math.min(cfg.maxLocalHealth, lhm + 1)
      suspect(p.target)
    }
    scheduleProbe(0)
  }

  const probe = (): void => {
    probeTimer = undefined
    if (!running || leaving) return
    const target = nextTarget()
    if (target === undefined) {
      scheduleProbe(cfg.probeIntervalMs)
      return
    }
    const p: Probe = { seq: seq++, target, sentAt: clock.now(), acked: false, nacks: 0, expectedNacks: 0, timers: [], heard: heardNow(target) }
    probes.set(p.seq, p)
    send(target, withBuddy(target, { t: 'ping', seq: p.seq, target, ...piggy(`m:${target}`) }))
    const interval = cfg.probeIntervalMs * scale()
    p.timers.push(clock.setTimeout(() => {
      if (p.acked || heardSince(p) || !running) return
      const helpers = pickRandom(cfg.indirectChecks, new Set([target]))
      p.expectedNacks = helpers.length
      for (const h of helpers) send(h, { t: 'ping-req', seq: p.seq, target, ...piggy() })
    }, Math.min(cfg.probeTimeoutMs * scale(), interval / 2)))
    p.timers.push(clock.setTimeout(() => { finishProbe(p) }, interval))
  }

  const scheduleProbe = (delay: number): void => {
    if (!running || probeTimer !== undefined) return
    probeTimer = clock.setTimeout(probe, delay)
  }

  const gossip = (): void => {
    gossipTimer = clock.setTimeout(gossip, cfg.gossipIntervalMs)
    if (queue.length === 0) return
    const targets = pickRandom(cfg.gossipFanout, new Set())
    for (const id of dead) {
      const recentlyDead = members.get(id)
      if (recentlyDead !== undefined && clock.now() - recentlyDead.changedAt < cfg.probeIntervalMs * 20 && random() < 0.1) targets.push(id)
    }
    for (const t of targets) {
      const payload = piggy()
      if (payload.u === undefined && payload.x === undefined) break
      send(t, { t: 'gossip', ...payload })
    }
  }

  const fullState = (): Update[] => {
    const list: Update[] = [{ k: leaving ? LEFT : ALIVE, id: self, inc: selfInc, meta: selfMeta }]
    for (const m of members.values()) {
      const u: Update = { k: m.state as Update['k'], id: m.id, inc: m.inc }
      if (m.meta !== undefined && m.state === ALIVE) u.meta = m.meta
      list.push(u)
    }
    return list
  }

  const pushPull = (): void => {
    pushPullTimer = clock.setTimeout(pushPull, pushPullInterval(cfg, clusterSize()))
    const [peer] = pickRandom(1, new Set())
    if (peer !== undefined) send(peer, { t: 'sync', members: fullState(), reply: true })
  }

  const reconnect = (): void => {
    reconnectTimer = clock.setTimeout(reconnect, cfg.reconnectIntervalMs)
    if (dead.size === 0) return
    const ids = [...dead]
    send(ids[Math.floor(random() * ids.length)] as string, { t: 'sync', members: fullState(), reply: true })
  }

  const mergeState = (from: string, list: Update[]): void => {
    for (const u of list) {
      // As memberlist does, a remote "dead" in a full sync only makes us suspect: we check ourselves.
      if (u.k === DEAD && u.id !== self) apply({ k: SUSPECT, id: u.id, inc: u.inc, by: from }, from)
      else apply(u, from)
    }
  }

  const lastIntroduced = new Map<string, number>()
  /** A message from a host we do not know: exchange state with it (rate-limited per host). */
  const introduce = (from: string): void => {
    const now = clock.now()
    const last = lastIntroduced.get(from)
    if (last !== undefined && now - last < cfg.probeIntervalMs * 10) return
    if (lastIntroduced.size > 10_000) lastIntroduced.clear()
    lastIntroduced.set(from, now)
    send(from, { t: 'sync', members: fullState(), reply: true })
  }

  const receive = (from: string, msg: SwimMessage): void => {
    if (!running) return
    const sender = members.get(from)
    if (sender !== undefined) sender.heardAt = clock.now()
    else if (from !== self && msg.t !== 'sync') introduce(from)
    if ('u' in msg && msg.u !== undefined) for (const u of msg.u) apply(u, from)
    if ('x' in msg && msg.x !== undefined && msg.x.length > 0) userItems(from, msg.x)
    switch (msg.t) {
      case 'ping':
        if (msg.target !== self) return
        send(from, { t: 'ack', seq: msg.seq, ...piggy() })
        return
      case 'ack': {
        const p = probes.get(msg.seq)
        if (p !== undefined) {
          if (!p.acked && from === p.target) {
            const m = members.get(from)
            const sample = clock.now() - p.sentAt
            rtt.observe(sample / 1000)
            if (m !== undefined) m.rttMs = m.rttMs === undefined ? sample : m.rttMs * 0.8 + sample * 0.2
          }
          p.acked = true
          return
        }
        const r = relays.get(msg.seq)
        if (r !== undefined) {
          relays.delete(msg.seq)
          clock.clearTimeout(r.timer)
          send(r.origin, { t: 'ack', seq: r.originSeq, ...piggy() })
        }
        return
      }
      case 'ping-req': {
        const relaySeq = seq++
        const relay: Relay = {
          origin: from,
          originSeq: msg.seq,
          timer: clock.setTimeout(() => {
            if (relays.delete(relaySeq)) send(from, { t: 'nack', seq: msg.seq })
          }, cfg.probeTimeoutMs * scale())
        }
        relays.set(relaySeq, relay)
        send(msg.target, withBuddy(msg.target, { t: 'ping', seq: relaySeq, target: msg.target, ...piggy(`m:${msg.target}`) }))
        return
      }
      case 'nack': {
        const p = probes.get(msg.seq)
        if (p !== undefined) p.nacks++
        return
      }
      case 'gossip':
        return
      case 'sync':
        mergeState(from, msg.members)
        if (msg.reply) send(from, { t: 'sync', members: fullState(), reply: false })
        return
      default: {
        const never: never = msg
        log?.warn({ msg: never }, 'unknown swim message')
      }
    }
  }

  return {
    id: self,
    config: cfg,
    start () {
      if (running) return
      running = true
      leaving = false
      scheduleProbe(random() * cfg.probeIntervalMs)
      gossipTimer = clock.setTimeout(gossip, random() * cfg.gossipIntervalMs)
      pushPullTimer = clock.setTimeout(pushPull, pushPullInterval(cfg, clusterSize()) * (0.5 + random()))
      reconnectTimer = clock.setTimeout(reconnect, cfg.reconnectIntervalMs * (0.5 + random()))
    },
    stop () {
      if (!running) return
      running = false
      for (const t of [probeTimer, gossipTimer, pushPullTimer, reconnectTimer]) if (t !== undefined) clock.clearTimeout(t)
      probeTimer = gossipTimer = pushPullTimer = reconnectTimer = undefined
      for (const p of probes.values()) for (const t of p.timers) clock.clearTimeout(t)
      probes.clear()
      for (const r of relays.values()) clock.clearTimeout(r.timer)
      relays.clear()
      for (const m of members.values()) {
        clearSuspicion(m)
        if (m.removeTimer !== undefined) clock.clearTimeout(m.removeTimer)
      }
    },
    join (seeds) {
      for (const s of seeds) if (s !== self) send(s, { t: 'sync', members: fullState(), reply: true })
    },
    leave () {
      if (leaving) return
      leaving = true
      queue.push('u', `m:${self}`, { k: LEFT, id: self, inc: selfInc }, UPDATE_SIZE)
      for (const t of pickRandom(Math.max(cfg.gossipFanout, 3), new Set())) send(t, { t: 'gossip', ...piggy() })
    },
    receive,
    members: () => [selfInfo(), ...[...members.values()].map(info)],
    member: (id) => {
      if (id === self) return selfInfo()
      const m = members.get(id)
      return m === undefined ? undefined : info(m)
    },
    randomLiveMember: () => {
      const pool = live()
      return pool.length === 0 ? undefined : pool[Math.floor(random() * pool.length)]
    },
    incarnation: () => selfInc,
    localHealth: () => lhm,
    broadcast (key, payload, size) {
      queue.push('x', key, payload, size)
    },
    onUserItems (cb) { userItems = cb },
    onChange (cb) { changeListeners.push(cb) },
    setMeta (meta) {
      selfMeta = meta
      selfInc++
      queueUpdate({ k: ALIVE, id: self, inc: selfInc, meta })
    },
    probeRtt: () => rtt.snapshot()
  }
}
