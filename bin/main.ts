import { fileURLToPath } from 'node:url'
import { createAgentHost } from '../actors/agent/host.js'
import { runCli } from '../src/cli/main.js'

// The composition root: the only place that joins the CLI (src/) with the agent's actor tree (actors/).
await runCli(process.argv, {
  binPath: fileURLToPath(new URL('./roost.js', import.meta.url)),
  agent: {
    async run (init, components) {
      const host = await createAgentHost(init, components)
      await host.start()
      return host
    }
  }
})
