import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { runCli } from '../src/cli/main.js'

// The composition root: the only place that joins the CLI (src/) with the agent's actor tree (actors/).
// From bin/main.ts the script is ./roost.js; from dist/bin/main.js it is ../../bin/roost.js.
const binPath = [new URL('./roost.js', import.meta.url), new URL('../../bin/roost.js', import.meta.url)]
  .map(u => fileURLToPath(u)).find(p => p.endsWith('/bin/roost.js') && !p.includes('/dist/') && existsSync(p))

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
