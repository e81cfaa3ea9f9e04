import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * The young generation of the agent's worker threads (MB; V8 splits it into two semi-spaces and
 * a large-object part, a third each). Left to V8, a worker's new space grows to 16 MB and more
 * within seconds of a start-up burst and stays until a memory-reducing GC much later: each
 * thread held ~10 MB it had no use for at idle. The hot paths keep their throughput at this size
 * (bench/messaging.ts, remote-dispatch). A process-wide `--max-semi-space-size` (an agent's
 * NODE_OPTIONS, agent-heap.ts) takes precedence over it.
 */
export const WORKER_YOUNG_GENERATION_MB = 6

/**
 * Starts a worker thread on the module `name` beside the module at `callerUrl` (its
 * `import.meta.url`): the compiled `.js` in a build, the `.ts` through tsx when run from source.
 * Its young generation is {@link WORKER_YOUNG_GENERATION_MB} unless `options` sets it.
 */
export function startWorkerModule (callerUrl: string, name: string, options: WorkerOptions): Worker {
  const fromSource = callerUrl.endsWith('.ts')
  const entry = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl)
  const withLimits: WorkerOptions = { ...options, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, ...options.resourceLimits } }
  if (!fromSource) return new Worker(entry, withLimits)
  return new Worker(`import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(entry.href)})`, { ...withLimits, eval: true })
}
