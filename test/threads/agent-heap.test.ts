import test from 'ava'
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { AGENT_GC_HELPER_THREADS, AGENT_SEMI_SPACE_MB, AGENT_V8_FLAGS, applyAgentV8Flags, hasAgentNodeOptions, withAgentNodeOptions } from '../../src/threads/agent-heap.js'
import { agentProcessEnv } from '../../src/threads/malloc-env.js'

test('the agent\'s Node.js options join NODE_OPTIONS unless it sets them already', t => {
  const pool = `--v8-pool-size=${AGENT_GC_HELPER_THREADS}`
  t.is(withAgentNodeOptions(undefined), `--max-semi-space-size=${AGENT_SEMI_SPACE_MB} ${pool}`)
  t.is(withAgentNodeOptions('--enable-source-maps'), `--enable-source-maps --max-semi-space-size=${AGENT_SEMI_SPACE_MB} ${pool}`)
  t.is(withAgentNodeOptions('--max-semi-space-size=16 --v8-pool-size=4'), '--max-semi-space-size=16 --v8-pool-size=4', 'an operator\'s own values win')
  t.false(hasAgentNodeOptions([], {}))
  t.true(hasAgentNodeOptions([], { NODE_OPTIONS: withAgentNodeOptions(undefined) }))
  t.true(hasAgentNodeOptions(['--max-semi-space-size=8', '--v8-pool-size=2'], {}))
  t.false(hasAgentNodeOptions(['--max-semi-space-size=8'], {}), 'each option counts')
})

// Allocates like a busy agent (many young objects, some surviving a while) and prints the
// largest its new space grew.
const ALLOCATE = `
const v8 = require('node:v8'); let max = 0; const keep = []
for (let i = 0; i < 300000; i++) {
  keep.push({ i, s: 'x' + i, a: [i] }); if (keep.length > 50000) keep.splice(0, 10000)
  if (i % 1000 === 0) max = Math.max(max, v8.getHeapSpaceStatistics().find(s => s.space_name === 'new_space').space_size)
}
console.log(max)`

/** Runs a fresh node with `args` (and `env`) and returns what it printed, trimmed. */
async function nodeOutput (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, args, { env, timeout: 30_000 }, (err, stdout) => {
      if (err !== null) reject(err)
      else resolve(stdout.trim())
    })
  })
}

/** Runs `script` in a fresh node with `env` and reads the number it prints. */
const nodePrints = async (script: string, env: NodeJS.ProcessEnv): Promise<number> => Number(await nodeOutput(['-e', script], env))

const newSpaceMax = async (env: NodeJS.ProcessEnv): Promise<number> => await nodePrints(ALLOCATE, env)
const threadsOf = async (env: NodeJS.ProcessEnv): Promise<number> => await nodePrints('console.log(require("node:fs").readdirSync("/proc/self/task").length)', env)

test('a process started with the agent\'s environment keeps its new space within the semi-space limit', async t => {
  const { NODE_OPTIONS: _, ...base } = process.env
  const bytes = await newSpaceMax(agentProcessEnv(base))
  t.true(bytes <= 2 * AGENT_SEMI_SPACE_MB * 1024 * 1024, `new space grew to ${bytes} bytes`)
  t.true(await newSpaceMax(base) > 2 * AGENT_SEMI_SPACE_MB * 1024 * 1024, 'without it the same work grows it further')
})

const hasProcTasks = (() => { try { return readdirSync('/proc/self/task').length > 0 } catch { return false } })()
const linux = hasProcTasks ? test : test.skip
linux(`a process started with the agent's environment runs V8's collector helpers on ${AGENT_GC_HELPER_THREADS} thread(s), not Node's default 4${hasProcTasks ? '' : ' (skipped: no /proc/self/task to count threads)'}`, async t => {
  const { NODE_OPTIONS: _, ...base } = process.env
  const agent = await threadsOf(agentProcessEnv(base))
  const plain = await threadsOf(base)
  t.is(plain - agent, 4 - AGENT_GC_HELPER_THREADS, `threads: ${plain} with Node's default, ${agent} with the agent's options`)
})

test('the agent sets its V8 flags unless its node arguments give them either way', t => {
  const set: string[] = []
  t.deepEqual(applyAgentV8Flags([], f => set.push(f)), [...AGENT_V8_FLAGS])
  t.deepEqual(set, [...AGENT_V8_FLAGS])
  t.deepEqual(applyAgentV8Flags(['--sparkplug'], () => t.fail('set')), [], 'an operator\'s --sparkplug wins')
  t.deepEqual(applyAgentV8Flags(['--no_sparkplug', '--max-semi-space-size=2'], () => t.fail('set')), [], 'underscores name the same flag')
  t.deepEqual(applyAgentV8Flags(['--max-semi-space-size=2', '--enable-source-maps'], () => {}), [...AGENT_V8_FLAGS], 'other arguments leave them be')
})

const BASELINE_PROBE = fileURLToPath(new URL('./fixtures/baseline-probe.ts', import.meta.url))

/** Whether a warm function got baseline code in a fresh node (`plain`: without the agent's V8 flags). */
async function baselineCode (mode: 'agent' | 'plain'): Promise<boolean> {
  return (JSON.parse(await nodeOutput(['--allow-natives-syntax', '--import=tsx', BASELINE_PROBE, mode])) as { baseline: boolean }).baseline
}

test('with the agent\'s V8 flags set as it runs, a warm function gets no baseline code', async t => {
  t.true(await baselineCode('plain'), 'without them it does')
  t.false(await baselineCode('agent'))
})
