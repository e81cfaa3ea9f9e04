import { Worker, type WorkerOptions } from 'node:worker_threads'

/**
 * Starts a worker thread on the module `name` beside the module at `callerUrl` (its
 * `import.meta.url`): the compiled `.js` in a build, the `.ts` through tsx when run from source.
 */
export function startWorkerModule (callerUrl: string, name: string, options: WorkerOptions): Worker {
  const fromSource = callerUrl.endsWith('.ts')
  const entry = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl)
  if (!fromSource) return new Worker(entry, options)
  return new Worker(`import { register } from 'tsx/esm/api'; register(); await import(${JSON.stringify(entry.href)})`, { ...options, eval: true })
}
