import { randomInt } from 'node:crypto'
import { basename } from 'node:path'

/** mulberry32: a small seeded PRNG, uniform in [0, 1). The same seed gives the same sequence. */
export function mulberry32 (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The seed of a chaos run: `CHAOS_SEED` when set (a replay), else a fresh one. */
export function chaosSeed (env: NodeJS.ProcessEnv = process.env): number {
  const given = env.CHAOS_SEED
  if (given === undefined || given === '') return randomInt(1, 2 ** 31)
  const n = Number(given)
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new RangeError(`CHAOS_SEED must be an integer 0 … 2^32-1, got ${given}`)
  return n
}

/**
 * A scenario's seeded choices (which host, when, how long). Every choice is drawn from one
 * PRNG in a fixed order and noted, so a failing run's seed replays the same schedule.
 */
export interface Schedule {
  readonly seed: number
  /** An integer in [lo, hi], noted under `what`. */
  int: (what: string, lo: number, hi: number) => number
  /** One of `xs`, noted under `what`. */
  pick: <T>(what: string, xs: readonly T[]) => T
  /** `n` distinct elements of `xs` in a seeded order, noted under `what`. */
  sample: <T>(what: string, xs: readonly T[], n: number) => T[]
  /** What was chosen so far, in order. */
  readonly choices: ReadonlyArray<{ what: string, value: unknown }>
  /** The command line that replays this schedule. */
  readonly replay: string
}

export function createSchedule (seed: number, testFile: string): Schedule {
  const next = mulberry32(seed)
  const choices: Array<{ what: string, value: unknown }> = []
  const note = <T>(what: string, value: T): T => { choices.push({ what, value }); return value }
  const below = (n: number): number => Math.floor(next() * n)
  const sample = <T>(xs: readonly T[], n: number): T[] => {
    if (n > xs.length) throw new RangeError(`cannot draw ${n} of ${xs.length}`)
    const pool = [...xs]
    const out: T[] = []
    for (let i = 0; i < n; i++) out.push(...pool.splice(below(pool.length), 1))
    return out
  }
  return {
    seed,
    int: (what, lo, hi) => note(what, lo + below(hi - lo + 1)),
    pick: (what, xs) => {
      if (xs.length === 0) throw new RangeError(`${what}: nothing to pick from`)
      return note(what, xs[below(xs.length)] as (typeof xs)[number])
    },
    sample: (what, xs, n) => note(what, sample(xs, n)),
    get choices () { return choices },
    replay: `CHAOS_SEED=${seed} npx ava test/chaos/${basename(testFile)}`
  }
}
