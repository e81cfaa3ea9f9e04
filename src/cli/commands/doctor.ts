import type { Command } from 'commander'
import { readAgentConfigFile, type AgentFileValues } from '../agent-config-file.js'
import { AGENT_OPTIONS, addAgentOptionFlags, agentOptionsFromFlags, resolveAgentOption, resolveAgentOptions, type AgentOptions } from '../agent-options.js'
import { printJson, printTable, reportError } from '../output.js'
import type { CheckStatus } from '../../doctor/doctor-check.js'
import type { DoctorInit } from '../../doctor/doctor.js'
import type { PlannedPort } from '../../doctor/port-checks.js'
import { defaultCacheDir } from '../../vmm/image/debian-packages.js'

const MARK: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', unknown: 'UNKNOWN' }

type Key = keyof typeof AGENT_OPTIONS

/**
 * The doctor's view of the agent's configuration, read exactly as `roost agent start` reads it
 * (flags, environment, --config file, defaults). A configuration that does not load becomes the
 * failed `config` check; the rest of the checks then use what does load, else the defaults.
 */
function doctorInit (flags: Record<string, string | undefined>, env: NodeJS.ProcessEnv): DoctorInit {
  const errors: string[] = []
  let file: AgentFileValues | undefined
  let configFile: string | undefined
  try {
    configFile = resolveAgentOption('config', flags.config, env)
    if (configFile !== undefined) file = readAgentConfigFile(configFile, AGENT_OPTIONS)
  } catch (err) { errors.push((err as Error).message) }
  let given: AgentOptions = {}
  try { given = agentOptionsFromFlags(flags) } catch (err) { errors.push((err as Error).message) }
  try {
    resolveAgentOptions(given, env, file)
  } catch (err) {
    // A missing secret does not hide the other errors: look again with one in place.
    errors.push((err as Error).message)
    if ((err as Error).message === AGENT_OPTIONS.secret.missing) {
      try { resolveAgentOptions({ ...given, secret: 'doctor' }, env, file) } catch (again) { errors.push((again as Error).message) }
    }
  }
  const setting = <K extends Key>(key: K): ReturnType<typeof AGENT_OPTIONS[K]['parse']> => {
    const resolve = resolveAgentOption as (key: K, given: unknown, env: NodeJS.ProcessEnv, file?: AgentFileValues) => ReturnType<typeof AGENT_OPTIONS[K]['parse']>
    try { return resolve(key, (given as Record<string, unknown>)[key], env, file) } catch { return resolve(key, undefined, {}) }
  }
  const wireguard = setting('wireguard')
  const host = setting('host')
  const api = setting('api')
  const wireguardPort = setting('wireguardPort') as number | undefined
  const ports: PlannedPort[] = [
    { id: 'api', flag: '--api', proto: 'tcp', host: api.host, port: api.port },
    { id: 'dht', flag: '--port', proto: 'udp', host, port: setting('port') },
    ...(wireguard === 'off' ? [] : [{ id: 'mesh', flag: '--mesh-port', proto: 'tcp' as const, host: '0.0.0.0', port: setting('meshPort') }]),
    ...(wireguard === 'off' || wireguardPort === undefined ? [] : [{ id: 'wireguard', flag: '--wireguard-port', proto: 'udp' as const, host: '0.0.0.0', port: wireguardPort }]),
    { id: 'backhaul', flag: '--backhaul-port', proto: 'tcp', host: wireguard === 'off' ? host : '0.0.0.0', port: setting('backhaulPort') }
  ]
  return {
    dataDir: setting('dataDir'),
    driver: setting('driver'),
    wireguard,
    ports: ports.filter(p => p.port !== 0),
    cacheDir: defaultCacheDir(),
    configSource: configFile === undefined ? 'flags, environment and defaults' : `${configFile}, the environment and flags over it`,
    ...(errors.length === 0 ? {} : { configError: [...new Set(errors)].join('; ') })
  }
}

export function registerDoctorCommand (program: Command): void {
  addAgentOptionFlags(program.command('doctor')
    .description('check this host for running the agent as configured (takes the same options, --config included, as agent start) and say what to fix; exits 1 when something it needs is missing'))
    .option('--json', 'print the report as JSON')
    .action(async (flags: Record<string, string | undefined> & { json?: boolean }) => {
      const json = flags.json === true
      try {
        const [{ runDoctor }, { createLogger }] = await Promise.all([import('../../doctor/doctor.js'), import('../../log/logger.js')])
        const report = await runDoctor(doctorInit(flags, process.env), { logger: createLogger({ level: 'error' }) })
        process.exitCode = report.ok ? 0 : 1
        if (json) {
          printJson(report)
          return
        }
        printTable(['STATUS', 'CHECK', 'FOUND'], report.checks.map(c => [MARK[c.status], c.title, c.detail]))
        const fixes = report.checks.filter(c => c.fix !== undefined && c.status !== 'ok')
        if (fixes.length > 0) process.stdout.write(`\nto fix:\n${fixes.map(c => `  ${c.title}: ${c.fix ?? ''}`).join('\n')}\n`)
        process.stdout.write(`\n${report.ok ? 'nothing required is missing' : 'something required is missing (FAIL above)'}\n`)
      } catch (err) { process.exitCode = reportError(err, json) }
    })
}
