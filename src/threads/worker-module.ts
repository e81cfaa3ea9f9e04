import { setFlagsFromString } from 'node:v8'
import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * The young generation of the agent's worker threads (MB; V8 splits it into two semi-spaces and
 * a large-object part, a third each). Left to V8, a worker's new space grows to 16 MB and more
 * within seconds of a start-up burst and stays until a memory-reducing GC much later: each
 * thread held ~10 MB it had no use for at idle. The hot paths keep their throughput at this size
 * (bench/messaging.ts, remote-dispatch).
 */
export const WORKER_YOUNG_GENERATION_MB = 6

/**
 * The `--max-semi-space-size` (MB) this process was started with: the last one among its
 * arguments and `NODE_OPTIONS` (the agent's own comes from agent-heap.ts), or undefined.
 */
export function processSemiSpaceMb (execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): number | undefined {
  let mb: number | undefined
  for (const o of [...(env.NODE_OPTIONS ?? '').split(/\s+/), ...execArgv]) {
    const m = /^--max[-_]semi[-_]space[-_]size=(\d+)$/.exec(o)
    if (m !== null) mb = Number(m[1])
  }
  return mb
}

/** The semi-space (MB, whole) V8 gives a young generation of `youngMb`: a third of it, at least 1. */
export function semiSpaceOf (youngMb: number): number {
  return Math.max(1, Math.floor(youngMb / 3))
}

let starting = 0

/**
 * A process-wide `--max-semi-space-size` takes precedence over a worker's `resourceLimits`: with
 * the agent's (agent-heap.ts, sized for the actors' thread) every worker would get the main
 * thread's young generation. V8 reads the flag once, when an isolate is made, so it is set to
 * the worker's size while its isolate is made and set back once the thread is online (or
 * has exited). Workers started before an earlier one is online get the latest size asked.
 */
function withSemiSpace (youngMb: number, make: () => Worker): Worker {
  const processMb = processSemiSpaceMb()
  if (processMb === undefined) return make()
  setFlagsFromString(`--max-semi-space-size=${semiSpaceOf(youngMb)}`)
  starting++
  let settled = false
  const settle = (): void => {
    if (settled) return
    settled = true
    if (--starting === 0) setFlagsFromString(`--max-semi-space-size=${processMb}`)
  }
  let worker: Worker
  try {
    worker = make()
  } catch (err) {
    settle()
    throw err
  }
  // Not 'error': a listener would keep an unhandled error from surfacing; 'exit' follows it anyway.
  worker.once('online', settle)
  worker.once('exit', settle)
  return worker
}

/**
 * Starts a worker thread on the module `name` beside the module at `callerUrl` (its
 * `import.meta.url`): the compiled `.js` in a build, the `.ts` through tsx when run from source.
 * Its young generation is {@link WORKER_YOUNG_GENERATION_MB} unless `options` sets it, whatever
 * the process's own semi-space.
 */
export function startWorkerModule (callerUrl: string, name: string, options: WorkerOptions): Worker {
  const fromSource = callerUrl.endsWith('.ts')
  const entry = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl)
  const youngMb = options.resourceLimits?.maxYoungGenerationSizeMb ?? WORKER_YOUNG_GENERATION_MB
  const withLimits: WorkerOptions = { ...options, resourceLimits: { ...options.resourceLimits, maxYoungGenerationSizeMb: youngMb } }
  return withSemiSpace(youngMb, () => fromSource
    ? new Worker(`import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(entry.href)})`, { ...withLimits, eval: true })
    : new Worker(entry, withLimits))
}
