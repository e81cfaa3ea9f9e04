import type { Command } from 'commander'
import { registerAgentCommands, type AgentRunner } from './commands/agent.js'
import { registerAppsCommand } from './commands/apps.js'
import { registerCertsCommand } from './commands/certs.js'
import { registerDeployCommand } from './commands/deploy.js'
import { registerDevCommand } from './commands/dev.js'
import { registerDhtCommand } from './commands/dht.js'
import { registerDoctorCommand } from './commands/doctor.js'
import { registerEventsCommand } from './commands/events.js'
import { registerImageCommand } from './commands/image.js'
import { registerLabCommand } from './commands/lab.js'
import { registerMachinesCommand } from './commands/machines.js'
import { registerHostCommand } from './commands/host.js'
import { registerMembersCommand } from './commands/members.js'
import { registerMeshCommand } from './commands/mesh.js'
import { registerRoutesCommand } from './commands/routes.js'
import { registerSendCommand } from './commands/send.js'
import { registerStateCommand } from './commands/state.js'
import { registerStatusPageCommand } from './commands/status-page.js'
import { rootCommand } from './root-command.js'

export interface CliDeps {
  agent: AgentRunner
  /** Path of the executable script, used to start child processes (`roost dev`). */
  binPath: string
}

/** Builds the `roost` command tree. */
export function createCli (deps: CliDeps): Command {
  const program = rootCommand()
  registerAgentCommands(program, deps.agent)
  registerDhtCommand(program)
  registerSendCommand(program)
  registerMembersCommand(program)
  registerEventsCommand(program)
  registerHostCommand(program)
  registerMeshCommand(program)
  registerStateCommand(program)
  registerRoutesCommand(program)
  registerStatusPageCommand(program)
  registerMachinesCommand(program)
  registerDeployCommand(program)
  registerAppsCommand(program)
  registerImageCommand(program)
  registerCertsCommand(program)
  registerDevCommand(program, deps.binPath)
  registerDoctorCommand(program)
  registerLabCommand(program, deps.binPath)
  return program
}
