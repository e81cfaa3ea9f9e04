import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { runCli } from '../src/cli/main.js'

// The composition root: the only place that joins the CLI (src/) with the agent's actor tree (actors/).
// From bin/main.ts and from the build's dist/main.js alike, the script is ../bin/roost.js.
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
