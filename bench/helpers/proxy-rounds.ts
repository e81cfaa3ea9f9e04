import { loadavg } from 'node:os'
import { median, progress, round } from './report.js'
import { errorCount, runWrk, type WrkErrors, type WrkResult, type WrkRun } from './wrk.js'

// How every keep-alive/churn/bulk case is sampled: a warm-up run of each path, then rounds in
// which each path gets one sample in turn (roost, haproxy, …), so drift on the shared machine
// falls on all of them alike; the figures are the medians over the rounds.

/** BENCH_PROXY_SAMPLES (default 5) rounds of BENCH_PROXY_SECONDS (default 5) per sample. */
export const ROUNDS = Number(process.env.BENCH_PROXY_SAMPLES ?? 5)
export const SAMPLE_SEC = Number(process.env.BENCH_PROXY_SECONDS ?? 5)
export const WARMUP_SEC = Number(process.env.BENCH_PROXY_WARMUP_SECONDS ?? 2)

/** One path under load: the wrk run that measures it. */
export interface Path {
  name: string
  run: Omit<WrkRun, 'durationSec'>
}

/** Per path: its samples' medians and its summed errors. */
export interface PathFigures {
  reqPerSec: number
  mbPerSec: number
  p50Ms: number
  p99Ms: number
  requests: number
  errors: WrkErrors
  samples: WrkResult[]
}

const sumErrors = (rs: WrkResult[]): WrkErrors => rs.reduce((a, r) => ({
  connect: a.connect + r.errors.connect, read: a.read + r.errors.read, write: a.write + r.errors.write, status: a.status + r.errors.status, timeout: a.timeout + r.errors.timeout
}), { connect: 0, read: 0, write: 0, status: 0, timeout: 0 })

function figures (rs: WrkResult[]): PathFigures {
  return {
    reqPerSec: median(rs.map(r => r.reqPerSec)),
    mbPerSec: median(rs.map(r => r.mbPerSec)),
    p50Ms: median(rs.map(r => r.p50Ms)),
    p99Ms: median(rs.map(r => r.p99Ms)),
    requests: rs.reduce((a, r) => a + r.requests, 0),
    errors: sumErrors(rs),
    samples: rs
  }
}

/** Wraps each measured sample (e.g. to read counters around it). */
export type AroundSample = (path: string, sample: () => Promise<WrkResult>) => Promise<WrkResult>

/** Warms each path up, then runs ROUNDS rounds of one sample per path; figures per path name. */
export async function alternate (label: string, script: string, paths: Path[], around: AroundSample = async (_p, sample) => await sample()): Promise<Record<string, PathFigures>> {
  for (const p of paths) {
    const w = await runWrk(script, { ...p.run, durationSec: WARMUP_SEC })
    progress(`${label}: warm-up ${p.name} ${Math.round(w.reqPerSec)} req/s${errorCount(w.errors) > 0 ? ` (errors ${JSON.stringify(w.errors)})` : ''}`)
  }
  const results = new Map<string, WrkResult[]>(paths.map(p => [p.name, []]))
  for (let i = 0; i < ROUNDS; i++) {
    for (const p of paths) {
      const r = await around(p.name, async () => await runWrk(script, { ...p.run, durationSec: SAMPLE_SEC }))
      results.get(p.name)?.push(r)
      const errs = errorCount(r.errors) > 0 ? `, errors ${JSON.stringify(r.errors)}` : ''
      progress(`${label} ${i + 1}/${ROUNDS} ${p.name}: ${Math.round(r.reqPerSec)} req/s, ${round(r.mbPerSec, 1)} MB/s, p99 ${round(r.p99Ms, 2)} ms${errs}`)
    }
  }
  return Object.fromEntries([...results].map(([name, rs]) => [name, figures(rs)]))
}

/** Errors as reported: only the kinds that occurred (`{}` when none). */
export function reportedErrors (e: WrkErrors): Partial<WrkErrors> {
  return Object.fromEntries(Object.entries(e).filter(([, n]) => n > 0))
}

/** Per round, `a`'s figure over `b`'s (samples taken side by side, so drift cancels within a round). */
export function roundRatios (a: PathFigures, b: PathFigures, metric: 'reqPerSec' | 'mbPerSec'): number[] {
  return a.samples.map((s, i) => round(s[metric] / (b.samples[i]?.[metric] ?? NaN)))
}

/** The 1-minute load average when a case starts: how busy the shared machine was. */
export function loadAvg1 (): number {
  return round(loadavg()[0] ?? NaN, 2)
}
