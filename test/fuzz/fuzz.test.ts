import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { INPUT_CLASSES } from './class-runners.js'
import { runFuzz, type FuzzResult } from './run-fuzz.js'

// Issue 13's fuzz suite, the short seeded pass: every input class at h1 of a 3-agent loopback
// cluster. Timing (the event-loop stall) is the bench's concern (`npm run bench -- fuzz`), not asserted here.
const SEED = 13_013
const CASES = 2_000

let run: Promise<FuzzResult> | undefined
let dir: string | undefined

test.before(async t => {
  dir = await mkdtemp(join(tmpdir(), 'roost-fuzz-'))
  run = runFuzz({ dir, cases: CASES, seed: SEED, settleMs: 5_000, batchTimeoutMs: 30_000, progress: (m) => { t.log(m) } })
  await run.catch(() => {})
})

test.after.always(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

for (const cls of INPUT_CLASSES) {
  test.serial(`${cls}: delivered, answered or refused, no crash, no actor restart`, async t => {
    const r = await (run as Promise<FuzzResult>)
    const c = r.perClass[cls]
    if (c === undefined) return t.fail(`no result for ${cls}`)
    t.log(`${cls}: ${c.delivered}/${c.attempted} delivered, ${c.answered}/${c.owed} answered, ${c.hangs} hangs, ${c.accepted} disallowed accepted, ${c.crashes} crashes, ${c.actorRestarts} actor restarts`)
    t.true(c.attempted > 0)
    t.true(c.delivered >= c.attempted * 0.9, `${c.delivered} of ${c.attempted} cases delivered`)
    t.is(c.hangs, 0, 'every case owed an answer got one (or a clean refusal)')
    t.is(c.crashes, 0, 'the target did not exit')
    t.is(c.actorRestarts, 0, 'no actor restarted')
    t.is(c.accepted, 0, 'no message a remote host may not send was carried out')
    t.is(c.untyped, 0, 'every API error had its typed body')
  })
}

test.serial('peers never marked the target suspect, dead or left; its prototype is clean', async t => {
  const r = await (run as Promise<FuzzResult>)
  for (const s of r.suspicions) t.log(`${s.observer} marked the target ${s.state}`)
  t.is(r.falseSuspicions, 0)
  t.false(r.prototypePolluted, 'Object.prototype of the target gained properties')
  t.is(r.crashes, 0)
})
