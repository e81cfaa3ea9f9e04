/** Time as the runtime sees it; tests swap in a controllable one. */
export interface Clock {
  now: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => { clearTimeout(handle as NodeJS.Timeout) }
}

/** Resolves after `ms` on the given clock. */
export async function sleep (clock: Clock, ms: number): Promise<void> {
  return await new Promise(resolve => { clock.setTimeout(resolve, ms) })
}
