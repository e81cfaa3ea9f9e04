/**
 * Polls `fn` until it returns a value other than undefined/false (or stops throwing), bounded
 * in time. Tests use this instead of sleeping.
 */
export async function retry<T> (fn: () => T | Promise<T>, opts: { timeoutMs?: number, intervalMs?: number, what?: string } = {}): Promise<Exclude<T, undefined | false>> {
  const timeoutMs = opts.timeoutMs ?? 10_000
  const intervalMs = opts.intervalMs ?? 25
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v as Exclude<T, undefined | false>
    } catch (err) {
      lastErr = err
    }
    if (Date.now() >= deadline) {
      const why = lastErr instanceof Error ? `: ${lastErr.message}` : ''
      throw new Error(`retry: ${opts.what ?? 'condition'} not met within ${timeoutMs} ms${why}`)
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
}
