import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { progress, report, round } from './helpers/report.js'
import { INPUT_CLASSES, type InputClass } from '../test/fuzz/class-runners.js'
import { runFuzz } from '../test/fuzz/run-fuzz.js'

// Issue 13's fuzz bench: FUZZ_CASES (default 100,000) generated cases from FUZZ_SEED (default: random, printed)
// at h1 of a 3-agent loopback cluster; FUZZ_CLASSES picks input classes (comma-separated).
const CASES = Number(process.env.FUZZ_CASES ?? 100_000)
const SEED = process.env.FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED)
const CLASSES = (process.env.FUZZ_CLASSES?.split(',') ?? [...INPUT_CLASSES]) as InputClass[]
const SETTLE_MS = Number(process.env.FUZZ_SETTLE_MS ?? 60_000)

export async function run (): Promise<void> {
  if (!Number.isInteger(CASES) || CASES <= 0) throw new Error(`FUZZ_CASES must be a positive integer, got ${process.env.FUZZ_CASES}`)
  if (!Number.isInteger(SEED)) throw new Error(`FUZZ_SEED must be an integer, got ${process.env.FUZZ_SEED}`)
  for (const c of CLASSES) if (!(INPUT_CLASSES as readonly string[]).includes(c)) throw new Error(`unknown input class '${c}' (known: ${INPUT_CLASSES.join(', ')})`)
  const dir = await mkdtemp(join(tmpdir(), 'roost-fuzz-'))
  let keep = true
  try {
    progress(`fuzz: ${CASES} cases, seed ${SEED} (FUZZ_SEED=${SEED} repeats this run), classes ${CLASSES.join(',')}`)
    // The target agent gets the last CPU to itself; this process and the peers keep to the others,
    // so the stall measured is the target's own work (on 2 cores the harness would otherwise
    // preempt it and count as its stall).
    const targetCpu = cpus().length >= 2 ? cpus().length - 1 : undefined
    if (targetCpu !== undefined) execFileSync('taskset', ['-a', '-p', '-c', [...Array(targetCpu).keys()].join(','), String(process.pid)], { stdio: 'ignore' })
    progress(targetCpu === undefined ? 'one CPU: the target shares it with the harness' : `target agent on CPU ${targetCpu}, the harness and the peers on the others`)
    const r = await runFuzz({ dir, cases: CASES, seed: SEED, classes: CLASSES, settleMs: SETTLE_MS, progress, ...(targetCpu === undefined ? {} : { targetCpu }) })
    // A run that delivered few of its cases measured little: say so rather than print a clean line.
    if (r.cases < r.attempted * 0.9) throw new Error(`only ${r.cases} of ${r.attempted} cases were delivered (see the per-class counts above); logs in ${dir}`)
    for (const s of r.suspicions) progress(`  ${s.observer} marked the target ${s.state}`)
    for (const [cls, c] of Object.entries(r.perClass)) progress(`  ${cls}: ${c.delivered}/${c.attempted} delivered, ${c.answered}/${c.owed} answered, ${c.hangs} hangs, ${c.accepted} disallowed accepted, ${c.untyped} untyped errors, stall ${round(c.maxStallMs, 1)} ms`)
    report('fuzz', {
      cases: r.cases,
      crashes: r.crashes,
      actorRestarts: r.actorRestarts,
      maxStallMs: round(r.maxStallMs, 1),
      rssGrowthMb: round(r.rssGrowthMb, 1),
      falseSuspicions: r.falseSuspicions,
      seed: r.seed,
      targetCpu: targetCpu ?? null,
      hangs: Object.values(r.perClass).reduce((s, c) => s + c.hangs, 0),
      disallowedAccepted: Object.values(r.perClass).reduce((s, c) => s + c.accepted, 0),
      prototypePolluted: r.prototypePolluted,
      baselineRssMb: round(r.baselineRssMb, 1),
      perClass: Object.fromEntries(Object.entries(r.perClass).map(([k, c]) => [k, { cases: c.delivered, crashes: c.crashes, actorRestarts: c.actorRestarts, stallMs: round(c.maxStallMs, 1), hangs: c.hangs }])),
      wallSec: round(r.wallSec, 1)
    })
    keep = false
  } finally {
    if (keep) progress(`agent logs kept in ${dir}`)
    else await rm(dir, { recursive: true, force: true })
  }
}
