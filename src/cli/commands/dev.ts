import { resolve } from 'node:path'
import type { Command } from 'commander'
import { startLocalCluster } from '../local-cluster.js'
import { DEMO_APP, DEMO_HTTP_PORT, DEMO_HTTPS_PORT, deployDemo } from '../dev-demo.js'
import { ensureDevCa } from '../../proxy/tls/dev-ca.js'
import { join } from 'node:path'
import { parseIntOption } from '../config.js'
import { DEV_POINTER_FILE, removeDevPointer, writeDevPointer } from '../dev-pointer.js'
import { printTable, reportError } from '../output.js'

export function registerDevCommand (program: Command, binPath: string): void {
  program.command('dev')
    .description('run a local cluster: a DHT bootstrap and N agents as separate processes on loopback (Ctrl-C stops all)')
    .option('--hosts <n>', 'number of agents', '3')
    .option('--dir <dir>', 'where the hosts keep their data and logs', '.roost/dev')
    .option('--log-level <level>', 'agents\' log level (logs go to <dir>/<host>/agent.log)', 'info')
    .option('--demo <n>', 'machines of the demo app to run (0: none)', '2')
    .option('--driver <driver>', 'VM driver of the agents: auto (qemu when installed), qemu, process', 'auto')
    .action(async (opts: { hosts: string, dir: string, logLevel: string, demo: string, driver: string }) => {
      const dir = resolve(opts.dir)
      const cwd = process.cwd()
      const started = Date.now()
      let cluster: Awaited<ReturnType<typeof startLocalCluster>> | undefined
      let stopping = false
      let stopped: Promise<void> | undefined
      // Once, however many signals arrive: a second Ctrl-C waits for the same checked stop.
      const shutdown = async (): Promise<void> => {
        stopping = true
        stopped ??= (async () => {
          process.stdout.write('\nstopping the local cluster…\n')
          removeDevPointer(cwd)
          const report = await cluster?.stop()
          for (const vm of report?.killed ?? []) process.stdout.write(`${vm.host}: killed machine ${vm.machineId} (pid ${vm.pid}), left running by its agent\n`)
          if (report !== undefined && report.survivors.length > 0) {
            process.stdout.write(`still running: ${report.survivors.map(vm => `${vm.host} machine ${vm.machineId} (pid ${vm.pid})`).join(', ')}\n`)
            throw new Error('some machines could not be stopped')
          }
          process.stdout.write('all processes stopped\n')
        })()
        await stopped
      }
      const onSignal = (): void => { shutdown().then(() => { process.exit(0) }, () => { process.exit(1) }) }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      process.once('exit', () => { removeDevPointer(cwd) })
      try {
        const n = parseIntOption(opts.hosts, '--hosts', 1)
        process.stdout.write(`starting a DHT bootstrap and ${n} agents in ${dir}\n`)
        const caDir = join(dir, 'ca')
        await ensureDevCa(caDir)
        cluster = await startLocalCluster({ binPath, hosts: n, dir, logLevel: opts.logLevel, agentArgs: ['--driver', opts.driver, '--region', 'local'], loopback: '127.0.0', caDir })
        const first = cluster.hosts[0]
        if (first !== undefined) writeDevPointer(cwd, first.dataDir)
        const views = await cluster.waitForMembership()
        const members = first === undefined ? [] : views.get(first.name) ?? []
        process.stdout.write(`\ncluster ready in ${Date.now() - started} ms (bootstrap ${cluster.bootstrap.host}:${cluster.bootstrap.port}); membership as ${first?.name ?? '-'} sees it:\n\n`)
        printTable(['NAME', 'HOST ID', 'STATE', 'INC', 'REGION', 'RTT', 'VERSION'], members.map(m => [
          `${m.name}${m.self ? ' *' : ''}`, m.hostId.slice(0, 12), m.state, String(m.incarnation), m.region,
          m.self ? '-' : m.rttMs === null ? '?' : `${m.rttMs.toFixed(2)}ms`, m.version
        ]))
        const demo = parseIntOption(opts.demo, '--demo', 0)
        if (demo > 0) {
          process.stdout.write(`\ndeploying the demo app (${demo} machines)…\n`)
          const { result, machines } = await deployDemo({ hosts: cluster.hosts, count: demo })
          process.stdout.write(`\nimage ${result.image.slice(0, 12)}; app '${DEMO_APP}' is up in ${Date.now() - started} ms:\n\n`)
          const names = new Map(cluster.hosts.map(h => [h.name, h]))
          printTable(['MACHINE', 'HOST', 'DRIVER', 'STATE', 'ENDPOINT'], machines.map(m => [
            m.id, result.machines.find(x => x.id === m.id)?.hostName ?? m.host.slice(0, 12), m.driver, m.state,
            m.endpoint === null ? '-' : `${m.endpoint.host}:${m.endpoint.port}`
          ]))
          process.stdout.write('\nevery host\'s router serves it (each agent listens on its own loopback address):\n\n')
          printTable(['HOST', 'HTTP', 'HTTPS'], cluster.hosts.map(h => [h.name, `http://${h.address}:${DEMO_HTTP_PORT}/`, `https://${DEMO_APP}.roost.internal:${DEMO_HTTPS_PORT}/ (resolve to ${h.address})`]))
          const h3 = cluster.hosts[cluster.hosts.length - 1] ?? cluster.hosts[0]
          process.stdout.write(`\n  curl -i http://${h3?.address ?? '127.0.0.1'}:${DEMO_HTTP_PORT}/\n` +
            `  curl --cacert ${opts.dir}/ca/ca.pem --resolve ${DEMO_APP}.roost.internal:${DEMO_HTTPS_PORT}:${names.get('h1')?.address ?? '127.0.0.1'} https://${DEMO_APP}.roost.internal:${DEMO_HTTPS_PORT}/\n` +
            `  node bin/roost.js routes\n  node bin/roost.js apps status ${DEMO_APP}\n`)
        }
        process.stdout.write(`\ncommands run from this folder talk to h1 (${DEV_POINTER_FILE} names it); try:\n  node bin/roost.js members\n  node bin/roost.js state hosts --data-dir ${opts.dir}/h2\n  node bin/roost.js send h2/agent '{"type":"agent.ping","seq":1}'\n\nlogs: ${opts.dir}/<host>/agent.log — Ctrl-C stops everything\n`)
        for (const h of cluster.hosts) {
          h.process.once('exit', (code, signal) => {
            if (!stopping) process.stdout.write(`agent ${h.name} exited (${code ?? signal}); see ${h.logFile}\n`)
          })
        }
      } catch (err) {
        process.exitCode = reportError(err, false)
        await shutdown().catch(() => {})
        process.exit(1)
      }
    })
}
