import { startAdmittedPeer, type AdmittedPeer } from './admitted-peer.js'
import { createApiDriver } from './api-driver.js'
import { addTally, emptyTally, INPUT_CLASSES, runBatch, strangers, type Drivers, type InputClass, type Tally } from './class-runners.js'
import { startFuzzCluster, type FuzzCluster } from './fuzz-cluster.js'
import { startOutsider } from './outsider.js'
import { settledRssMb, targetStats, watchSuspicions, type Suspicion } from './target-watch.js'

export interface FuzzInit {
  /** Where the cluster's data dirs and logs go. */
  dir: string
  cases: number
  seed: number
  classes?: readonly InputClass[]
  /** Relative share of each class in the case count (default: see {@link DEFAULT_WEIGHTS}). */
  weights?: Partial<Record<InputClass, number>>
  /** Weight of the 64 KiB–1 MiB hostile values (default 1, against 20 for the small ones). */
  bigWeight?: number
  /** Cases of one class between two barriers (default 200). */
  batch?: number
  /** A CPU for the target agent alone (the caller keeps itself off it). */
  targetCpu?: number
  /** The target agent's scheduling priority (`nice -n`): below 0 it goes before the harness and its peers. */
  targetNice?: number
  batchTimeoutMs?: number
  /** At most this long for the target's RSS to stop falling after the run (default 60 s). */
  settleMs?: number
  progress?: (msg: string) => void
}

export interface ClassResult extends Tally {
  /** The longest event-loop stall seen over this class's batches (histogram max less its resolution). */
  maxStallMs: number
  /** Target exits and actor restarts seen right after this class's batches. */
  crashes: number
  actorRestarts: number
}

export interface FuzzResult {
  seed: number
  /** Cases delivered (known to have been read by the target). */
  cases: number
  attempted: number
  /** Times the target process exited during the run. */
  crashes: number
  /** Actor restarts on the target during the run (from `agent.stats`). */
  actorRestarts: number
  maxStallMs: number
  baselineRssMb: number
  settledRssMb: number
  rssGrowthMb: number
  /** Times a peer marked the target suspect, dead or left during the run. */
  falseSuspicions: number
  suspicions: Suspicion[]
  /** Object.prototype gained properties in the target. */
  prototypePolluted: boolean
  perClass: Record<string, ClassResult>
  wallSec: number
}

export const DEFAULT_WEIGHTS: Record<InputClass, number> = { hello: 5, frames: 20, session: 10, envelopes: 25, gossip: 20, senders: 2, api: 12, control: 6 }

const BATCH_WIDTH: Partial<Record<InputClass, number>> = { hello: 32, api: 64, control: 32 }

/** Cases per class, in proportion to the weights, summing to `cases`. */
export function plan (cases: number, classes: readonly InputClass[], weights: Record<InputClass, number>): Map<InputClass, number> {
  const total = classes.reduce((s, c) => s + weights[c], 0)
  const out = new Map<InputClass, number>(classes.map(c => [c, Math.floor(cases * weights[c] / total)]))
  let left = cases - [...out.values()].reduce((a, b) => a + b, 0)
  for (const c of classes) { if (left-- <= 0) break; out.set(c, (out.get(c) ?? 0) + 1) }
  return out
}

const classSeed = (seed: number, cls: InputClass, round: number): number => (seed ^ (INPUT_CLASSES.indexOf(cls) + 1) * 0x9e3779b1 ^ round * 0x85ebca6b) | 0

/**
 * Issue 13's fuzz run: a 3-agent loopback cluster, h1 the target; every class's generated cases
 * driven at it in interleaved batches (outsiders before admission, an admitted peer below and
 * at the session layer, the Machines API, the control socket); then its crashes, actor
 * restarts, event-loop stall, RSS growth once settled, and what its peers said about it.
 */
export async function runFuzz (init: FuzzInit): Promise<FuzzResult> {
  const started = performance.now()
  const say = init.progress ?? (() => {})
  const classes = init.classes ?? INPUT_CLASSES
  const weights = { ...DEFAULT_WEIGHTS, ...init.weights }
  const batch = init.batch ?? 200
  say(`starting a 3-agent cluster in ${init.dir}`)
  const fc: FuzzCluster = await startFuzzCluster(init.dir, { ...(init.targetCpu === undefined ? {} : { targetCpu: init.targetCpu }), ...(init.targetNice === undefined ? {} : { targetNice: init.targetNice }) })
  const cleanups: Array<() => Promise<void> | void> = [async () => { await fc.stop() }]
  try {
    let target = fc.target()
    const bootstrap = fc.cluster.bootstrap
    const connectDrivers = async (): Promise<Drivers> => {
      const peer: AdmittedPeer = await startAdmittedPeer({ cluster: fc.clusterName, secret: fc.secret, targetHostId: target.hostId, bootstrap })
      const outsider = await startOutsider({ targetHostId: target.hostId, bootstrap })
      const api = createApiDriver(target.apiUrl)
      cleanups.push(async () => { await peer.close() }, async () => { await outsider.close() }, () => { api.close() })
      return {
        peer, outsider, api,
        controlSocket: target.host.socketPath,
        apiToken: target.apiToken,
        clusterName: fc.clusterName,
        ids: { target: target.hostId, self: peer.hostId, fakes: strangers(init.seed) },
        hostile: { bigWeight: init.bigWeight ?? 1 },
        batchTimeoutMs: init.batchTimeoutMs ?? 60_000
      }
    }
    let drivers = await connectDrivers()
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).length
    const first = await targetStats(target.host.socketPath, target.hostId, true)
    let restartsBase = first.stats.restarts
    let restarts = 0
    let crashes = 0
    const baselineRssMb = await settledRssMb(target.pid, { maxMs: 15_000, quietSamples: 3 })
    const watch = await watchSuspicions(target.hostId, fc.peers())
    await targetStats(target.host.socketPath, target.hostId, true)
    say(`target h1 ${target.hostId.slice(0, 12)} pid ${target.pid}, baseline RSS ${baselineRssMb.toFixed(1)} MB; ${init.cases} cases, seed ${init.seed}`)

    const left = plan(init.cases, classes, weights)
    const perClass: Record<string, ClassResult> = Object.fromEntries(classes.map(c => [c, { ...emptyTally(), maxStallMs: 0, crashes: 0, actorRestarts: 0 }]))
    let polluted = false
    let round = 0
    let done = 0
    let lastSay = 0
    while ([...left.values()].some(n => n > 0)) {
      for (const cls of classes) {
        const n = Math.min(left.get(cls) ?? 0, BATCH_WIDTH[cls] ?? batch)
        if (n === 0) continue
        left.set(cls, (left.get(cls) ?? 0) - n)
        const tally = await runBatch(drivers, cls, n, classSeed(init.seed, cls, round))
        const s = fc.targetAlive() ? await targetStats(target.host.socketPath, target.hostId, true).catch(async (err: unknown) => { await fc.exited(5_000); if (fc.targetAlive()) throw err }) : undefined
        if (s === undefined || !fc.targetAlive()) {
          crashes++
          say(`target exited during a ${cls} batch (crash ${crashes}); starting it again`)
          await fc.restartTarget()
          target = fc.target()
          drivers = await connectDrivers()
          restartsBase = (await targetStats(target.host.socketPath, target.hostId, true)).stats.restarts
          addTally(perClass[cls] as ClassResult, tally);
          (perClass[cls] as ClassResult).crashes++
          continue
        }
        const r = perClass[cls] as ClassResult
        addTally(r, tally)
        r.maxStallMs = Math.max(r.maxStallMs, Math.max(0, s.eventLoop.maxMs - s.eventLoop.resolutionMs))
        restarts += s.stats.restarts - restartsBase
        r.actorRestarts += s.stats.restarts - restartsBase
        restartsBase = s.stats.restarts
        if (s.objectPrototypeKeys > protoKeys) polluted = true
        done += tally.delivered
        if (performance.now() - lastSay > 5_000) {
          lastSay = performance.now()
          say(`${done}/${init.cases} delivered; crashes ${crashes}, actor restarts ${restarts}, stall max ${Math.max(...Object.values(perClass).map(c => c.maxStallMs)).toFixed(1)} ms, RSS ${(s.rssBytes / 2 ** 20).toFixed(0)} MB`)
        }
      }
      round++
    }
    say('run done; waiting for the target\'s RSS to settle')
    if (!fc.targetAlive()) {
      crashes++
      throw new Error(`the target exited at the end of the run (crash ${crashes}): no settled RSS to measure`)
    }
    const settled = await settledRssMb(target.pid, { maxMs: init.settleMs ?? 60_000 })
    const suspicions = await watch.read()
    const all = Object.values(perClass)
    return {
      seed: init.seed,
      cases: all.reduce((s, c) => s + c.delivered, 0),
      attempted: all.reduce((s, c) => s + c.attempted, 0),
      crashes,
      actorRestarts: restarts,
      maxStallMs: Math.max(0, ...all.map(c => c.maxStallMs)),
      baselineRssMb,
      settledRssMb: settled,
      rssGrowthMb: settled - baselineRssMb,
      falseSuspicions: suspicions.length,
      suspicions,
      prototypePolluted: polluted,
      perClass,
      wallSec: (performance.now() - started) / 1000
    }
  } finally {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {})
  }
}
