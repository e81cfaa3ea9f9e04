import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { progress, report, round } from './helpers/report.js'
import { INPUT_CLASSES, type InputClass } from '../test/fuzz/class-runners.js'
import { runFuzz } from '../test/fuzz/run-fuzz.js'

// Issue 13's fuzz bench: FUZZ_CASES (default 100,000) generated cases from FUZZ_SEED (default: random, printed)
// at h1 of a 3-agent loopback cluster; FUZZ_CLASSES picks input classes (comma-separated); FUZZ_KEEP_LOGS
// keeps the agents' logs; FUZZ_NODE_ARGS adds node flags to the target (e.g. --trace-gc).
const CASES = Number(process.env.FUZZ_CASES ?? 100_000)
const SEED = process.env.FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED)
const CLASSES = (process.env.FUZZ_CLASSES?.split(',') ?? [...INPUT_CLASSES]) as InputClass[]
const SETTLE_MS = Number(process.env.FUZZ_SETTLE_MS ?? 60_000)
const PLACEMENT = process.env.FUZZ_TARGET ?? 'priority'
const TARGET_NICE = -10

export async function run (): Promise<void> {
  if (!Number.isInteger(CASES) || CASES <= 0) throw new Error(`FUZZ_CASES must be a positive integer, got ${process.env.FUZZ_CASES}`)
  if (!Number.isInteger(SEED)) throw new Error(`FUZZ_SEED must be an integer, got ${process.env.FUZZ_SEED}`)
  for (const c of CLASSES) if (!(INPUT_CLASSES as readonly string[]).includes(c)) throw new Error(`unknown input class '${c}' (known: ${INPUT_CLASSES.join(', ')})`)
  const dir = await mkdtemp(join(tmpdir(), 'roost-fuzz-'))
  let keep = true
  try {
    progress(`fuzz: ${CASES} cases, seed ${SEED} (FUZZ_SEED=${SEED} repeats this run), classes ${CLASSES.join(',')}`)
    // The stall measured must be the target's own work, not the harness preempting it (on 2 cores
    // the fuzzer and the peers would otherwise count as its stall). FUZZ_TARGET=priority (default):
    // the target runs at nice -10 on every CPU, so its threads (actor loop, transport, data
    // plane) go first wherever they run, as on a server whose load comes from elsewhere;
    // FUZZ_TARGET=pinned: the last CPU is the target's alone and its threads share it.
    const pinned = PLACEMENT === 'pinned' && cpus().length >= 2
    const targetCpu = pinned ? cpus().length - 1 : undefined
    if (targetCpu !== undefined) execFileSync('taskset', ['-a', '-p', '-c', [...Array(targetCpu).keys()].join(','), String(process.pid)], { stdio: 'ignore' })
    const targetNice = pinned ? undefined : TARGET_NICE
    progress(targetCpu !== undefined ? `target agent on CPU ${targetCpu}, the harness and the peers on the others` : `target agent at nice ${TARGET_NICE} on every CPU, the harness and the peers at 0`)
    const r = await runFuzz({ dir, cases: CASES, seed: SEED, classes: CLASSES, settleMs: SETTLE_MS, progress, ...(targetCpu === undefined ? {} : { targetCpu }), ...(targetNice === undefined ? {} : { targetNice }) })
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
      target: targetCpu === undefined ? `nice ${TARGET_NICE}` : `cpu ${targetCpu}`,
      hangs: Object.values(r.perClass).reduce((s, c) => s + c.hangs, 0),
      disallowedAccepted: Object.values(r.perClass).reduce((s, c) => s + c.accepted, 0),
      prototypePolluted: r.prototypePolluted,
      baselineRssMb: round(r.baselineRssMb, 1),
      perClass: Object.fromEntries(Object.entries(r.perClass).map(([k, c]) => [k, { cases: c.delivered, crashes: c.crashes, actorRestarts: c.actorRestarts, stallMs: round(c.maxStallMs, 1), hangs: c.hangs }])),
      wallSec: round(r.wallSec, 1)
    })
    keep = process.env.FUZZ_KEEP_LOGS !== undefined
  } finally {
    if (keep) progress(`agent logs kept in ${dir}`)
    else await rm(dir, { recursive: true, force: true })
  }
}
