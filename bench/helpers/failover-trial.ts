import { readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { machineOn, stateDir } from '../../test/helpers/router-lab.js'
import { APP, BOOT_HOST, deployApp, HOSTNAME, killHost, PUBLIC_PORT, ROUTER_HOST, startFailoverLab, VICTIM, type FailoverLab } from './failover-lab.js'
import { REQUEST_TIMEOUT_MS, startLoad, succeeded, type RequestRecord } from './failover-load.js'
import { watchMembership, watchReplacement, type ReplacementView, type SurvivorView } from './failover-watch.js'
import { progress, round } from './report.js'

// One trial of the failover bench in a fresh lab: deploy, time a boot, start the load, kill the
// victim host three seconds in, watch detection and the replacement, collect every request.

const BOOT_PROBE = fileURLToPath(new URL('./failover-boot-probe.ts', import.meta.url))
/** Requests per second across all clients (BENCH_FAILOVER_RATE). */
export const RATE = Number(process.env.BENCH_FAILOVER_RATE ?? 300)
/** h2load clients (connections); each sends RATE / CLIENTS requests a second. */
export const CLIENTS = Number(process.env.BENCH_FAILOVER_CLIENTS ?? 30)
/** Load before the kill. */
export const BEFORE_KILL_MS = 3_000
/** Load after the kill. */
export const AFTER_KILL_MS = Number(process.env.BENCH_FAILOVER_AFTER_MS ?? 12_000)
/** How long h2load may wait for answers past its schedule before it is stopped. */
const LOAD_GRACE_MS = 5_000

/** A trial's figures (ms from the kill unless said otherwise). */
export interface TrialFigures {
  /** The last survivor to mark the victim dead. */
  detectMs: number
  /** The first survivor to mark it suspect (or dead, when suspect was not seen). */
  firstSuspectMs: number
  /** The router host marking it suspect: from then on its router chooses other machines. */
  routerSuspectMs: number
  /** The start of the last request that failed (0: none failed). */
  recoverMs: number
  failedRequests: number
  totalRequests: number
  failedPct: number
  /** Failed requests by kind: non-2xx answers, streams that failed, answers slower than the timeout, never finished. */
  failedBy: { status: number, stream: number, slow: number, unfinished: number }
  /** The first request the replacement's app logged. */
  replacedMs: number
  /** The replacement's row started / passing its checks, as the router host saw it. */
  replacementStartedMs: number
  replacementHealthyMs: number
  /** When the replacement's host wrote its row with the checks passing (the row's updatedAt). */
  replacementPassingWrittenMs: number
  replacementHost: string
  /** The slowest answer (failed or not) to a request sent in the 5 s after the kill: what detection costs the requests it does not fail. */
  maxLatencyMs: number
  /** Create → app answering, on a survivor of the same lab, before the kill. */
  bootMs: number
  /** Failed requests sent before the kill (a healthy lab has none). */
  preKillFailures: number
}

/** A trial's figures and what its timeline is drawn from. */
export interface TrialResult {
  figures: TrialFigures
  killedAt: number
  records: RequestRecord[]
  survivors: SurvivorView[]
  replacement: ReplacementView
}

async function hostIds (fl: FailoverLab): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  for (const h of fl.hosts) out.set((JSON.parse(await readFile(join(h.dataDir, 'agent.json'), 'utf8')) as { hostId: string }).hostId, h.name)
  return out
}

async function bootMs (fl: FailoverLab, modelId: string): Promise<number> {
  const h = fl.lab.host(BOOT_HOST)
  const out = await fl.lab.exec(BOOT_HOST, process.execPath, ['--import', 'tsx', BOOT_PROBE, h.dataDir, APP, modelId, 'boot-probe'])
  const r = JSON.parse(out.trim().split('\n').pop() ?? '') as { ms: number, id: string }
  fl.machines.add(r.id)
  return r.ms
}

const pause = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, Math.max(0, ms)))

/** Runs one trial in its own lab under `dir`. */
export async function runTrial (dir: string, n: number): Promise<TrialResult> {
  progress(`trial ${n}: starting a lab of 5 hosts (WireGuard on, process driver)`)
  const fl = await startFailoverLab(join(dir, 'lab'))
  try {
    const deployed = await deployApp(fl, dir)
    const names = await hostIds(fl)
    const idOf = (name: string): string => [...names].find(([, v]) => v === name)?.[0] as string
    const victimMachine = machineOn(deployed, VICTIM)
    const boot = await bootMs(fl, victimMachine)
    progress(`trial ${n}: ${APP} on h1, h2, h3; a process-driver machine boots in ${Math.round(boot)} ms; load ${RATE} req/s through ${ROUTER_HOST}'s router`)
    const router = fl.lab.host(ROUTER_HOST)
    const survivors = fl.hosts.filter(h => h.name !== VICTIM)
    const load = startLoad({
      netns: fl.client.netns,
      url: `http://${HOSTNAME}/`,
      connectTo: `${router.address}:${PUBLIC_PORT}`,
      rate: RATE,
      clients: CLIENTS,
      seconds: (BEFORE_KILL_MS + AFTER_KILL_MS) / 1000,
      logFile: join(dir, 'h2load.log'),
      graceMs: LOAD_GRACE_MS
    })
    const members = await watchMembership(survivors, idOf(VICTIM), load.startedAt + BEFORE_KILL_MS + AFTER_KILL_MS)
    await pause(load.startedAt + BEFORE_KILL_MS - Date.now())
    const { killedAt } = await killHost(fl, VICTIM)
    // Every line from now on is the replacement's: the dead copy's log goes aside.
    await rename(join(stateDir(victimMachine), 'requests.jsonl'), join(stateDir(victimMachine), 'requests-dead-copy.jsonl')).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
    const replacement = await watchReplacement(router, victimMachine, 2, load.startedAt + BEFORE_KILL_MS + AFTER_KILL_MS)
    const watched = await Promise.allSettled([members.settled, replacement.settled])
    const seen = { survivors: await members.stop(), replacement: await replacement.stop() }
    const result = await load.done
    for (const w of watched) if (w.status === 'rejected') throw new Error(`trial ${n}: ${(w.reason as Error).message}; seen: ${JSON.stringify(seen)}`)
    const figures = figuresOf(result.records, result.unfinished, result.scheduled, killedAt, seen.survivors, seen.replacement, boot, names)
    progress(`trial ${n}: ${JSON.stringify(figures)}; h2load: ${result.summary}`)
    return { figures, killedAt, records: result.records, ...seen }
  } finally {
    await fl.stop()
  }
}

function figuresOf (records: RequestRecord[], unfinished: number, scheduled: number, killedAt: number, survivors: SurvivorView[], r: ReplacementView, boot: number, names: Map<string, string>): TrialFigures {
  const failed = records.filter(x => !succeeded(x))
  const since = (t: number | null, what: string): number => {
    if (t === null) throw new Error(`not measured: ${what}`)
    return Math.round(t - killedAt)
  }
  const routerView = survivors.find(s => s.host === ROUTER_HOST)
  const failedRequests = failed.length + unfinished
  return {
    detectMs: Math.max(...survivors.map(s => since(s.deadAt, `${s.host} marking ${VICTIM} dead`))),
    firstSuspectMs: Math.min(...survivors.map(s => since(s.suspectAt ?? s.deadAt, `${s.host} marking ${VICTIM} suspect`))),
    routerSuspectMs: since(routerView?.suspectAt ?? routerView?.deadAt ?? null, `${ROUTER_HOST} marking ${VICTIM} suspect`),
    recoverMs: failed.length === 0 ? 0 : Math.max(0, Math.round(Math.max(...failed.map(x => x.start)) - killedAt)),
    failedRequests,
    totalRequests: scheduled,
    failedPct: round(100 * failedRequests / scheduled, 3),
    failedBy: {
      status: failed.filter(x => x.status > 0).filter(x => x.status < 200 || x.status >= 300).length,
      stream: failed.filter(x => x.status === -1).length,
      slow: failed.filter(x => x.status >= 200 && x.status < 300 && x.durationMs > REQUEST_TIMEOUT_MS).length,
      unfinished
    },
    replacedMs: since(r.firstRequestAt, 'the replacement\'s first request'),
    replacementStartedMs: since(r.startedAt, 'the replacement started'),
    replacementHealthyMs: since(r.healthyAt, 'the replacement passing its checks'),
    replacementPassingWrittenMs: since(r.healthyWrittenAt, 'the replacement\'s passing row written'),
    replacementHost: r.host === null ? '?' : names.get(r.host) ?? r.host,
    maxLatencyMs: Math.round(Math.max(0, ...records.filter(x => x.start >= killedAt && x.start < killedAt + 5_000 && x.status !== -1).map(x => x.durationMs))),
    bootMs: Math.round(boot),
    preKillFailures: failed.filter(x => x.start < killedAt).length
  }
}
