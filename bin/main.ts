import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { applyAgentV8Flags } from '../src/threads/agent-heap.js'

// The composition root: the only place that joins the CLI (src/) with the agent's actor tree (actors/).
// From bin/main.ts and from the build's dist/main.js alike, the script is ../bin/roost.js.
// The agent's V8 flags are set before the CLI's modules run: a roost process that becomes an
// agent should have compiled nothing the flags would have compiled otherwise.
applyAgentV8Flags()
const { runCli } = await import('../src/cli/main.js')
const script = fileURLToPath(new URL('../bin/roost.js', import.meta.url))
const binPath = existsSync(script) ? script : undefined

await runCli(process.argv, {
  binPath: binPath ?? process.argv[1] ?? 'roost',
  agent: {
    async run (init, components) {
      const { createAgentHost } = await import('../actors/agent/host.js')
      const host = await createAgentHost(init, components)
      await host.start()
      return host
    }
  }
})
