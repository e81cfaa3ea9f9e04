import { setFlagsFromString } from 'node:v8'

/**
 * The semi-space of the agent's main thread (MB; its new space is two of them). V8's default
 * lets it grow to 16 MB each during the start-up burst (module loading, the replica's first
 * sync), and it shrinks back only when a memory-reducing GC runs, 8–30 s later or never: an
 * idle agent held a 32 MB new space it had no use for. Like the malloc setting it is read once
 * at start, so whatever spawns an agent gives it (agentProcessEnv, the systemd unit). V8 flags
 * hold for every isolate of the process and take precedence over a worker's `resourceLimits`:
 * worker-module.ts sets the flag to each worker's own size while its isolate is made.
 * At 2 MB the actors' hot path keeps its throughput and CPU per message (bench/messaging.ts,
 * remote-dispatch, three alternated pairs on 2026-12-06: 1,054k / 910k / 888k msg/s against
 * 922k / 889k / 832k at 4 MB; sender 0.93 / 0.97 / 0.98 µs against 0.92 / 0.89 / 1.07, receiver
 * 0.95 / 1.23 / 1.05 against 1.00 / 1.12 / 1.22), and the idle agent's new space at the bench's
 * reading is 4 MB, not 8. At 1 MB the actors spent ~5 % more CPU per remote message (three more
 * pairs) and the flood bench ran at half its rate (377k / 378k against 717k / 649k msg/s).
 */
export const AGENT_SEMI_SPACE_MB = 2

/**
 * Background threads V8 runs its collector's helper tasks on (Node's default is 4, whatever the
 * cores). In a parallel phase (a scavenge, a mark-compact's atomic pause) the actors' thread
 * joins the helpers and then waits for the tasks they took; on 2 cores, with the agent's own
 * threads (transport, data plane) and whatever else the server runs, those helpers queued behind
 * one another while the actors' thread slept: a scheduler trace of the fuzz bench caught the
 * main thread asleep 16 ms while four helpers ran one after another on one core. One helper
 * leaves the others' cores alone: fuzz session class (10,000 cases, seeds 20261208/09/10) worst
 * stall 16.5/26/18 ms with 4, 12.3/12.2/15.8 with 2, 12.5/9.6/9.3 with 1; the messaging bench's
 * CPU per message is unchanged. An agent's heaps are tens of MB, small for one helper.
 */
export const AGENT_GC_HELPER_THREADS = 1

/** The Node.js options an agent process starts with. */
export const AGENT_NODE_OPTIONS: readonly string[] = Object.freeze([`--max-semi-space-size=${AGENT_SEMI_SPACE_MB}`, `--v8-pool-size=${AGENT_GC_HELPER_THREADS}`])

/**
 * V8 flags a roost process sets on itself first thing (bin/main.ts), before the CLI's modules
 * and the agent's run (`NODE_OPTIONS` takes no V8 flags; a flag holds for every thread of the
 * process).
 *
 * `--no-sparkplug`: V8's baseline compiler turns every function that has run a little into
 * machine code beside its bytecode. An idle agent runs ~750 such functions now and then (start-up,
 * gossip rounds, probes, timers) and held 0.84 MB of baseline code in its main thread and more in
 * the transport thread's, and the compiler's own pages of the node binary: 2.7 MB of an idle
 * agent's RSS at the messaging bench's reading and 2.8 MB settled (three hosts, two alternated
 * rounds on 2026-12-06: 78.9 / 78.8 against 81.5 / 81.5 MB at the reading, 70.8 / 71.2 against
 * 73.7 / 74.0 settled). What the agent runs hot (the envelope, the codec, the session, the proxy)
 * is optimized by TurboFan either way, which never waits for baseline code: the remote-dispatch
 * bench, three alternated pairs, 783k / 813k / 933k msg/s without against 739k / 767k / 927k with,
 * CPU per message within noise (sender 1.22 / 1.05 / 0.90 µs against 1.17 / 1.02 / 0.97); the
 * router's http and conn-churn cases, the flood and mesh-up likewise (README, Performance).
 */
export const AGENT_V8_FLAGS: readonly string[] = Object.freeze(['--no-sparkplug'])

/** A V8 flag's name, whether it is given as `--name`, `--no-name` or `--name=value` (dashes and underscores alike). */
function v8FlagName (flag: string): string {
  return flag.replace(/^--/, '').split('=')[0]!.replace(/_/g, '-').replace(/^no-/, '')
}

/**
 * Sets {@link AGENT_V8_FLAGS} on this process, except those its node arguments already give
 * either way (`node --sparkplug …` keeps the baseline compiler). Returns the flags it set.
 */
export function applyAgentV8Flags (execArgv: readonly string[] = process.execArgv, set: (flag: string) => void = setFlagsFromString): string[] {
  const given = new Set(execArgv.filter(a => a.startsWith('--')).map(v8FlagName))
  const flags = AGENT_V8_FLAGS.filter(f => !given.has(v8FlagName(f)))
  for (const flag of flags) set(flag)
  return flags
}

/** `NODE_OPTIONS` with the agent's options added, except those it already sets (by name). */
export function withAgentNodeOptions (nodeOptions: string | undefined): string {
  const have = (nodeOptions ?? '').split(/\s+/).filter(o => o !== '')
  const names = new Set(have.map(o => o.split('=')[0]))
  return [...have, ...AGENT_NODE_OPTIONS.filter(o => !names.has(o.split('=')[0]))].join(' ')
}

/** Whether this process was started with the agent's Node.js options (in its arguments or NODE_OPTIONS). */
export function hasAgentNodeOptions (execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): boolean {
  const given = new Set([...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)].map(o => o.split('=')[0]))
  return AGENT_NODE_OPTIONS.every(o => given.has(o.split('=')[0]))
}
