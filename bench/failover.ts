import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { labAvailable } from '../src/lab/lab.js'
import { wireguardAvailable } from '../src/mesh/wg-command.js'
import { CHECK_INTERVAL_MS } from './helpers/failover-lab.js'
import { REQUEST_TIMEOUT_MS } from './helpers/failover-load.js'
import { timelineSvg } from './helpers/failover-timeline.js'
import { AFTER_KILL_MS, BEFORE_KILL_MS, CLIENTS, RATE, runTrial, type TrialFigures, type TrialResult } from './helpers/failover-trial.js'
import { loadAvg1 } from './helpers/proxy-rounds.js'
import { median, progress, report, round } from './helpers/report.js'

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url))
const TRIALS = Number(process.env.BENCH_FAILOVER_TRIALS ?? 5)
const TARGETS = { detectMs: 1000, recoverMs: 1000, failedPct: 0.1 }

/** What this machine lacks for the bench (it needs root for the lab's namespaces). */
function missing (): string[] {
  const out: string[] = []
  if (process.getuid?.() !== 0) out.push('root (the lab makes network namespaces)')
  const lab = labAvailable()
  if (!lab.ok) out.push(`the lab: ${lab.reason}`)
  const wg = wireguardAvailable()
  if (!wg.ok) out.push(`WireGuard: ${wg.reason}`)
  try {
    execFileSync('sh', ['-c', 'command -v h2load'], { stdio: 'ignore' })
  } catch {
    out.push('h2load (apt-get install nghttp2-client)')
  }
  return out
}

const NUMERIC: Array<keyof TrialFigures> = ['detectMs', 'firstSuspectMs', 'routerSuspectMs', 'recoverMs', 'failedRequests', 'totalRequests', 'failedPct', 'replacedMs', 'replacementStartedMs', 'replacementHealthyMs', 'replacementPassingWrittenMs', 'maxLatencyMs', 'bootMs']

/**
 * A host running one of an app's three machines dies (link down, then kill -9 of everything in
 * its namespace) while h2load sends a fixed rate through the router of a host running none of
 * them; TRIALS fresh 5-host labs. One line of medians, per-trial values, and a timeline SVG.
 */
export async function run (): Promise<void> {
  const lacking = missing()
  if (lacking.length > 0) throw new Error(`bench failover cannot run here; missing: ${lacking.join('; ')}`)
  const loadAvg = loadAvg1()
  if (loadAvg > 1.5) progress(`the 1-minute load average is ${loadAvg.toFixed(2)}: other work shares these cores, so the figures will be noisy`)
  const trials: TrialResult[] = []
  for (let n = 1; n <= TRIALS; n++) {
    const dir = await mkdtemp(join(tmpdir(), 'roost-bench-failover-'))
    try {
      trials.push(await runTrial(dir, n))
    } finally {
      if (process.env.BENCH_FAILOVER_KEEP === '1') progress(`kept ${dir} (BENCH_FAILOVER_KEEP=1)`)
      else await rm(dir, { recursive: true, force: true })
    }
  }
  const figures = trials.map(t => t.figures)
  const med = Object.fromEntries(NUMERIC.map(k => [k, round(median(figures.map(f => f[k] as number)), 3)])) as Record<string, number>
  const replacedTarget = Math.round((med.detectMs ?? 0) + (med.bootMs ?? 0) + 500)
  await mkdir(RESULTS, { recursive: true })
  const svg = join(RESULTS, `failover-${new Date().toISOString().replace(/[:.]/g, '-')}.svg`)
  const title = `roost failover: kill -9 of 1 of 5 hosts, ${RATE} req/s through another host's router`
  const subtitle = `medians of ${trials.length} trials: detected ${med.detectMs} ms, last failed request ${med.recoverMs} ms, ${med.failedRequests} of ${med.totalRequests} failed, replacement serving ${med.replacedMs} ms, boot ${med.bootMs} ms`
  await writeFile(svg, timelineSvg(trials, title, subtitle))
  progress(`timeline: ${svg}`)
  report('failover', {
    ...med,
    driver: 'process',
    trials: trials.length,
    targets: { ...TARGETS, replacedMs: replacedTarget },
    met: {
      detectMs: (med.detectMs ?? Infinity) <= TARGETS.detectMs,
      recoverMs: (med.recoverMs ?? Infinity) <= TARGETS.recoverMs,
      failedPct: (med.failedPct ?? Infinity) <= TARGETS.failedPct,
      replacedMs: (med.replacedMs ?? Infinity) <= replacedTarget
    },
    trialValues: figures,
    rate: RATE,
    clients: CLIENTS,
    loadGenerator: 'h2load --h1 --rps',
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    loadBeforeKillMs: BEFORE_KILL_MS,
    loadAfterKillMs: AFTER_KILL_MS,
    checkIntervalMs: CHECK_INTERVAL_MS,
    hosts: 5,
    wireguard: true,
    gossipProfile: 'lan',
    loadAvg1: loadAvg,
    svg
  })
}
