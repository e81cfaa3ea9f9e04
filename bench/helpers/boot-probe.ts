import type { MachinesClient } from '../../src/api/machines/client.js'
import type { MachineView } from '../../src/api/machines/schemas.js'

// How every boot case is timed, the agent's and the raw peers' alike: one HTTP probe method.

/** The guest app's static file (no CGI fork in the measurement). */
export const PROBE_PATH = process.env.BENCH_BOOT_PATH ?? '/ping.txt'
/** A new probe this often, whatever the ones in flight do. */
export const PROBE_EVERY_MS = 20
/** Each probe gives up after this long. */
export const PROBE_TIMEOUT_MS = 1_000
const PROBES_IN_FLIGHT = 16
/** A boot (or an API state change) that takes longer than this fails the bench. */
export const BOOT_TIMEOUT_MS = 120_000
const API_POLL_MS = 5

/** The probe method, for every JSON line. */
export const probeFields = { probe: PROBE_PATH, probeEveryMs: PROBE_EVERY_MS, probeTimeoutMs: PROBE_TIMEOUT_MS }

/**
 * Resolves when the guest app on 127.0.0.1:`port` first answers 200. Probes overlap (a new one
 * every PROBE_EVERY_MS): slirp accepts a forwarded connection before the guest listens, and such
 * a probe hangs until its timeout, so waiting for each in turn would round a boot up to it.
 */
export async function firstAnswer (port: number): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS
  let inFlight = 0
  let answered = false
  let done: () => void = () => {}
  const answer = new Promise<void>((resolve) => { done = resolve })
  const probe = (): void => {
    inFlight++
    fetch(`http://127.0.0.1:${port}${PROBE_PATH}`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
      .then(async (res) => { await res.arrayBuffer(); if (res.status === 200 && !answered) { answered = true; done() } })
      .catch(() => {})
      .finally(() => { inFlight-- })
  }
  while (!answered) {
    if (Date.now() > deadline) throw new Error(`timed out after ${BOOT_TIMEOUT_MS} ms: no HTTP answer on port ${port}`)
    if (inFlight < PROBES_IN_FLIGHT) probe()
    await Promise.race([answer, new Promise(resolve => setTimeout(resolve, PROBE_EVERY_MS))])
  }
}

/** Polls `fn` every API_POLL_MS until it returns a value, at most BOOT_TIMEOUT_MS. */
export async function until<T> (fn: () => Promise<T | false | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS
  for (;;) {
    const v = await fn()
    if (v !== false && v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${BOOT_TIMEOUT_MS} ms: ${what}`)
    await new Promise(resolve => setTimeout(resolve, API_POLL_MS))
  }
}

/** API call → the machine started with an endpoint → its guest answering ({@link firstAnswer}); ms. */
export async function timeToAnswer (c: MachinesClient, app: string, call: () => Promise<MachineView>): Promise<{ ms: number, m: MachineView }> {
  const t0 = performance.now()
  const first = await call()
  const m = await until(async () => {
    const v = await c.get(app, first.id)
    if (v.state === 'failed') throw new Error(`machine ${v.id} failed: ${v.events[0]?.message ?? ''}`)
    return v.state === 'started' && v.endpoint !== null && v
  }, `${first.id} started`)
  await firstAnswer(m.endpoint?.port ?? 0)
  return { ms: performance.now() - t0, m }
}
