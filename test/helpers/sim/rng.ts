/**
 * A seeded random number generator for simulations (sfc32, seeded by hashing the seed string
 * with cyrb128). Everything random in a simulation should draw from one of these so that a run
 * is a pure function of its seed and can be replayed.
 */
export interface Rng {
  /**
   * The seed string this stream derives from: `createRng(rng.seed)` replays it from the start.
   * A fork's seed is its parent's seed, `/`, and the label (`'42/network/loss'`).
   */
  readonly seed: string
  /** A float in [0, 1), with 32 bits of resolution. */
  next: () => number
  /** An integer in [0, n), exactly uniform (rejection sampling). `n`: an integer in [1, 2^32]. */
  int: (n: number) => number
  /** A uniformly chosen element; throws on an empty array. */
  pick: <T>(arr: readonly T[]) => T
  /** Shuffles `arr` in place (Fisher–Yates) and returns it. */
  shuffle: <T>(arr: T[]) => T[]
  /** True with probability `p` (false for p ≤ 0, true for p ≥ 1). Always draws exactly once. */
  chance: (p: number) => boolean
  /**
   * An independent stream that depends only on this stream's seed and `label` — not on how
   * much this stream has been drawn, and drawing from it never moves this stream. So a
   * component that takes `rng.fork('swim')` can change how much randomness it uses without
   * perturbing any other component. The same label gives the same stream every time: give
   * each consumer its own label (`fork(\`host:${id}\`)`).
   */
  fork: (label: string | number) => Rng
}

const TWO_POW_32 = 4294967296
/** sfc32's first outputs still show the seed's structure; its authors discard a few. */
const WARM_UP_ROUNDS = 16

/** cyrb128: a fast 128-bit string hash, used only to spread the seed over sfc32's state. */
function hashSeed (str: string): [number, number, number, number] {
  let h1 = 1779033703
  let h2 = 3144134277
  let h3 = 1013904242
  let h4 = 2773480762
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0]
}

/**
 * Creates a generator from `seed`. A number seed is used through its decimal string, so
 * `createRng(7)` and `createRng('7')` are the same stream (handy when the seed comes from an
 * environment variable).
 */
export function createRng (seed: number | string): Rng {
  if (typeof seed === 'number' && !Number.isFinite(seed)) throw new RangeError(`rng seed must be finite, got ${seed}`)
  const key = String(seed)
  let [a, b, c, d] = hashSeed(key)

  /** One sfc32 step: an unsigned 32-bit integer. */
  const u32 = (): number => {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return t >>> 0
  }
  for (let i = 0; i < WARM_UP_ROUNDS; i++) u32()

  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) throw new RangeError(`rng.int: n must be an integer in [1, 2^32], got ${n}`)
    // Reject the top partial block of 2^32 so every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n)
    for (;;) {
      const x = u32()
      if (x < limit) return x % n
    }
  }

  return {
    seed: key,
    next: () => u32() / TWO_POW_32,
    int,
    pick: <T>(arr: readonly T[]): T => {
      if (arr.length === 0) throw new RangeError('rng.pick: empty array')
      return arr[int(arr.length)] as T
    },
    shuffle: <T>(arr: T[]): T[] => {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = int(i + 1)
        const tmp = arr[i] as T
        arr[i] = arr[j] as T
        arr[j] = tmp
      }
      return arr
    },
    chance: (p: number) => {
      if (Number.isNaN(p)) throw new RangeError('rng.chance: p is NaN')
      return u32() / TWO_POW_32 < p
    },
    fork: (label: string | number) => createRng(`${key}/${label}`)
  }
}
