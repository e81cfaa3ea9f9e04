import type { CliDeps } from './cli-tree.js'

export type { CliDeps } from './cli-tree.js'

/**
 * Runs `roost <argv>`. `roost agent …` loads the agent's commands alone: an agent runs for
 * months, and the rest of the CLI (lab, dev, deploy, image…, ~40 modules and 1.4 MB of heap)
 * would stay loaded in it for nothing. Every other command line gets the whole tree.
 */
export async function runCli (argv: string[], deps: CliDeps): Promise<void> {
  if (argv[2] === 'agent') {
    const [{ rootCommand }, { registerAgentCommands }] = await Promise.all([import('./root-command.js'), import('./commands/agent.js')])
    const program = rootCommand()
    registerAgentCommands(program, deps.agent)
    await program.parseAsync(argv)
    return
  }
  const { createCli } = await import('./cli-tree.js')
  await createCli(deps).parseAsync(argv)
}
