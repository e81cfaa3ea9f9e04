import { withAgentNodeOptions } from './agent-heap.js'

/**
 * glibc's malloc raises its mmap threshold each time a large block is freed (up to 32 MiB), so
 * after the first burst of big transient buffers (1 MiB frames, bodies) later ones come from the
 * arenas and stay there, fragmented: an agent that took a flood of large frames kept ~60 MB more
 * RSS for good. A fixed threshold turns that adaptation off: blocks of 128 KiB and more are
 * mapped and unmapped on their own. It is read once when a process starts, so whatever spawns an
 * agent sets it (the local cluster, the lab, the systemd unit); a value already in the
 * environment wins.
 */
export const AGENT_MALLOC_ENV: Readonly<Record<string, string>> = Object.freeze({ MALLOC_MMAP_THRESHOLD_: '131072' })

/**
 * The environment to start an agent process with: `base` plus the malloc settings it does not
 * set itself, and the agent's Node.js options in `NODE_OPTIONS` (agent-heap.ts).
 */
export function agentProcessEnv (base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base }
  for (const [k, v] of Object.entries(AGENT_MALLOC_ENV)) if (env[k] === undefined) env[k] = v
  env.NODE_OPTIONS = withAgentNodeOptions(env.NODE_OPTIONS)
  return env
}

/** Whether this process runs with the malloc settings agents should have (for a start-up log line). */
export function hasAgentMallocEnv (env: NodeJS.ProcessEnv = process.env): boolean {
  return Object.keys(AGENT_MALLOC_ENV).every(k => env[k] !== undefined)
}
