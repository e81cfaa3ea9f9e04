import { resolve } from 'node:path'
import type { Command } from 'commander'
import { startLocalCluster } from '../local-cluster.js'
import { DEMO_APP, deployDemo } from '../dev-demo.js'
import { parseIntOption } from '../config.js'
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
      const started = Date.now()
      let cluster: Awaited<ReturnType<typeof startLocalCluster>> | undefined
      let stopping = false
      const shutdown = async (): Promise<void> => {
        if (stopping) return
        stopping = true
        process.stdout.write('\nstopping the local cluster…\n')
        await cluster?.stop()
        process.stdout.write('all processes stopped\n')
      }
      const onSignal = (): void => { shutdown().then(() => { process.exit(0) }, () => { process.exit(1) }) }
      process.on('SIGINT', onSignal)
      process.on('SIGTERM', onSignal)
      try {
        const n = parseIntOption(opts.hosts, '--hosts', 1)
        process.stdout.write(`starting a DHT bootstrap and ${n} agents in ${dir}\n`)
        cluster = await startLocalCluster({ binPath, hosts: n, dir, logLevel: opts.logLevel, agentArgs: ['--driver', opts.driver] })
        const views = await cluster.waitForMembership()
        const first = cluster.hosts[0]
        const members = first === undefined ? [] : views.get(first.name) ?? []
        process.stdout.write(`\ncluster ready in ${Date.now() - started} ms (bootstrap ${cluster.bootstrap.host}:${cluster.bootstrap.port}); membership as ${first?.name ?? '-'} sees it:\n\n`)
        printTable(['NAME', 'HOST ID', 'STATE', 'INC', 'REGION', 'RTT', 'VERSION'], members.map(m => [
          `${m.name}${m.self ? ' *' : ''}`, m.hostId.slice(0, 12), m.state, String(m.incarnation), m.region,
          m.self ? '-' : m.rttMs === null ? '?' : `${m.rttMs.toFixed(2)}ms`, m.version
        ]))
        const demo = parseIntOption(opts.demo, '--demo', 0)
        if (demo > 0) {
          process.stdout.write(`\ndeploying the demo app (${demo} machines)…\n`)
          const tty = process.stderr.isTTY
          const { image, machines } = await deployDemo({
            dir,
            hosts: cluster.hosts,
            count: demo,
            onProgress: (p) => {
              const total = p.total === undefined ? '' : ` ${Math.round((p.done ?? 0) / 1024)}/${Math.round(p.total / 1024)} KiB`
              process.stderr.write(tty ? `\r\x1b[K  image: ${p.step} ${p.detail.slice(0, 60)}${total}` : `  image: ${p.step} ${p.detail}${total}\n`)
            }
          })
          if (tty) process.stderr.write('\n')
          process.stdout.write(`\nimage ${image.slice(0, 12)}; app '${DEMO_APP}' is up in ${Date.now() - started} ms:\n\n`)
          printTable(['MACHINE', 'NAME', 'HOST', 'DRIVER', 'STATE', 'ENDPOINT'], machines.map(m => [
            m.id, m.name, m.host.slice(0, 12), m.driver, m.state,
            m.endpoint === null ? '-' : `http://${m.endpoint.host}:${m.endpoint.port}/`
          ]))
          process.stdout.write(`\n  curl ${machines[0]?.endpoint === null || machines[0] === undefined ? '' : `http://${machines[0].endpoint.host}:${machines[0].endpoint.port}/`}\n  node bin/roost.js machines list --app ${DEMO_APP} --data-dir ${opts.dir}/h1\n`)
        }
        process.stdout.write(`\ntry:\n  node bin/roost.js members --data-dir ${opts.dir}/h1\n  node bin/roost.js state hosts --data-dir ${opts.dir}/h2\n  node bin/roost.js send h2/agent '{"type":"agent.ping","seq":1}' --data-dir ${opts.dir}/h1\n\nlogs: ${opts.dir}/<host>/agent.log — Ctrl-C stops everything\n`)
        for (const h of cluster.hosts) {
          h.process.once('exit', (code, signal) => {
            if (!stopping) process.stdout.write(`agent ${h.name} exited (${code ?? signal}); see ${h.logFile}\n`)
          })
        }
      } catch (err) {
        process.exitCode = reportError(err, false)
        await shutdown()
        process.exit(1)
      }
    })
}
