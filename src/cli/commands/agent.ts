import type { Command } from 'commander'
import { callAgent } from '../agent-call.js'
import { readAgentConfigFile } from '../agent-config-file.js'
import { AGENT_OPTIONS, addAgentOptionFlags, agentOptionsFromFlags, resolveAgentOption, resolveAgentOptions, type AgentOptions } from '../agent-options.js'
import type { Logger } from '../../log/logger.js'
import { defaultDataDir } from '../config.js'
import { printJson, printTable, reportError } from '../output.js'
import { killVms, liveVmsOf } from '../../vmm/vm-sweep.js'

/** Signals after which a stopping agent gives up its orderly stop (killing its VMs) and exits. */
const FORCE_AFTER_SIGNALS = 3

/** What the CLI needs to run an agent; injected by the composition root (bin/), so src/ never imports actors/. */
export interface AgentRunner {
  run: (init: AgentOptions, components: { logger: Logger }) => Promise<{ stop: () => Promise<void>, stopped: Promise<{ fatal?: Error }> }>
}

export function registerAgentCommands (program: Command, runner: AgentRunner): void {
  const agent = program.command('agent').description('run or inspect the node agent of this host')

  addAgentOptionFlags(agent.command('start')
    .description('start the agent in the foreground (Ctrl-C stops it cleanly)'))
    .action(async (flags: Record<string, string | undefined>) => {
      const { createLogger } = await import('../../log/logger.js')
      let file
      try {
        const configFile = resolveAgentOption('config', flags.config)
        file = configFile === undefined ? undefined : readAgentConfigFile(configFile, AGENT_OPTIONS)
      } catch (err) {
        process.exitCode = reportError(err, false)
        return
      }
      const logger = createLogger({ level: resolveAgentOption('logLevel', flags.logLevel, process.env, file), base: { node: resolveAgentOption('name', flags.name, process.env, file) } })
      try {
        const options = resolveAgentOptions(agentOptionsFromFlags(flags), process.env, file)
        const host = await runner.run(options, { logger })
        let signals = 0
        // A terminal's Ctrl-C reaches the agent and, through a supervisor such as `roost dev`,
        // often a SIGTERM right after: the stop those ask for must finish (it stops the machines,
        // in bounded time). Only a third signal cuts it short, and even then kills the VMs.
        const onSignal = (sig: string): void => {
          signals++
          if (signals === 1) {
            logger.info({ signal: sig }, 'signal received')
            host.stop().catch(() => {})
            return
          }
          if (signals < FORCE_AFTER_SIGNALS) {
            logger.warn({ signal: sig }, `already stopping: the machines are stopped first (${FORCE_AFTER_SIGNALS - signals} more signal(s) to kill them and exit at once)`)
            return
          }
          const vms = liveVmsOf(options.dataDir)
          logger.warn({ signal: sig, vms: vms.map(vm => ({ machine: vm.machineId, pid: vm.pid })) }, 'forced exit: killing the machines')
          killVms(vms).finally(() => { process.exit(130) })
        }
        process.on('SIGINT', onSignal)
        process.on('SIGTERM', onSignal)
        const { fatal } = await host.stopped
        process.exitCode = fatal === undefined ? 0 : 1
      } catch (err) {
        logger.error({ err }, 'agent failed to start')
        process.exitCode = reportError(err, false)
      }
    })

  agent.command('info')
    .description('show what the local agent reports about itself')
    .option('--data-dir <dir>', 'data dir of the agent', defaultDataDir())
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir: string, json?: boolean }) => {
      try {
        const info = await callAgent(opts.dataDir, async api => await api.info())
        if (opts.json === true) printJson(info)
        else printTable(['FIELD', 'VALUE'], Object.entries(info).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]))
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })

  agent.command('stop')
    .description('ask the local agent to stop gracefully')
    .option('--data-dir <dir>', 'data dir of the agent', defaultDataDir())
    .action(async (opts: { dataDir: string }) => {
      try {
        await callAgent(opts.dataDir, async api => { await api.shutdown() })
      } catch (err) { process.exitCode = reportError(err, false) }
    })
}
