/** How long a receiver's count may stay short and unchanged before the missing messages count as lost. */
export const SETTLE_MS = 2_000
const POLL_MS = 10

/**
 * Asks a receiver for its count of the bench's messages until it reaches `target`, or until it
 * has not moved for SETTLE_MS (then what arrived is final: the rest were lost). `at` is when the
 * last answer came, the end of the measured interval.
 */
export async function settledCount (count: () => Promise<number>, target: number): Promise<{ count: number, at: number }> {
  let last = await count()
  let changed = performance.now()
  for (;;) {
    const at = performance.now()
    if (last >= target || at - changed > SETTLE_MS) return { count: last, at }
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
    const next = await count()
    if (next !== last) changed = performance.now()
    last = next
  }
}
