import { cp, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MachinesClient } from '../../src/api/machines/client.js'
import { startLocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'
import { timeToAnswer, until } from './boot-probe.js'
import { httpOnce } from './http-once.js'
import { AGENT_LOG_LEVEL, BIN, deployedMachine, machinesOf, roostDeploy, routesOf } from './proxy-deploy.js'
import { cmdlineOf, pidOf, vmGone } from './raw-qemu.js'
import { loadAvg1 } from './proxy-rounds.js'
import { median, progress, report, round } from './report.js'

// autostart: one agent (qemu driver) and the counter test app (busybox httpd in a microVM) behind
// the router's http port. Each sample: the machine suspended through the API (its QEMU gone, and
// the router's routes showing it suspended), then one request through the router, timed from
// the connection to the response's end. Its peer, in the same loop: the same machine suspended
// again and resumed through the API, timed to the guest answering on its port (the boot bench's
// qemu-resume method). Their ratio is what the router adds to a wake-up (the peer polls the API
// and probes every 20 ms, so it can come out the slower of the two).

const APP = 'wake'
const HOSTNAME = `${APP}.roost.internal`
const PORT = 8080
const SAMPLES = Number(process.env.BENCH_AUTOSTART_SAMPLES ?? 5)
const KERNEL = (process.env.BENCH_AUTOSTART_KERNEL ?? 'minimal') as 'minimal' | 'distribution'
const COUNTER_APP = fileURLToPath(new URL('../../test/fixtures/apps/counter', import.meta.url))
const PROBE_PATH = '/ping.txt'

const TOML = `app = "${APP}"
primary_region = "local"

[[services]]
protocol = "tcp"
internal_port = 8080
auto_stop_machines = "off"
auto_start_machines = true
min_machines_running = 0

[[services.ports]]
port = ${PORT}
handlers = ["http"]

[restart]
policy = "no"
`

async function suspend (c: MachinesClient, h: LocalHost, id: string): Promise<void> {
  const pid = pidOf(await c.get(APP, id))
  await c.action(APP, id, 'suspend')
  await until(async () => (await c.get(APP, id)).state === 'suspended', `${id} suspended`)
  await vmGone(pid)
  await until(async () => (await routesOf(h.socketPath, APP))?.machines.some(m => m.id === id && m.state === 'suspended' && !m.routable), `the router seeing ${id} suspended`)
}

/** The autostart case (qemu driver; TCG here). */
export async function benchAutostart (dir: string): Promise<void> {
  const appDir = join(dir, 'app')
  await cp(COUNTER_APP, appDir, { recursive: true })
  await writeFile(join(appDir, 'roost.toml'), TOML)
  progress(`autostart: one agent (qemu driver) in ${dir}`)
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 1, dir: join(dir, 'cluster'), logLevel: AGENT_LOG_LEVEL, agentArgs: ['--driver', 'qemu'] })
  try {
    const h = cluster.hosts[0] as LocalHost
    progress(`roost deploy of the counter app (${KERNEL} kernel)`)
    const result = await roostDeploy({ appDir, dataDir: h.dataDir, kernel: KERNEL })
    const c = await machinesOf(h.dataDir)
    const { m } = await deployedMachine(c, result)
    const viaRouter = async (): Promise<number> => {
      const t0 = performance.now()
      const a = await httpOnce({ target: { host: h.address, port: PORT }, hostname: HOSTNAME, path: PROBE_PATH, timeoutMs: 120_000 })
      const ms = performance.now() - t0
      if (a.status !== 200) throw new Error(`autostart: the router answered ${a.status} ${a.headers['roost-error']?.toString() ?? ''}: ${a.body.slice(0, 200)}`)
      return ms
    }
    await until(async () => await viaRouter().then(() => true, () => false), 'the router serving the app')
    const loadAvg = loadAvg1()
    const wake: number[] = []; const resume: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      await suspend(c, h, m.id)
      wake.push(await viaRouter())
      const state = (await c.get(APP, m.id)).state
      if (state !== 'started') throw new Error(`autostart: the request was answered but ${m.id} is ${state}`)
      await suspend(c, h, m.id)
      resume.push((await timeToAnswer(c, APP, async () => await c.action(APP, m.id, 'start'))).ms)
      progress(`autostart ${i + 1}/${SAMPLES}: through the router ${round(wake[i] ?? 0, 0)} ms, API resume ${round(resume[i] ?? 0, 0)} ms`)
    }
    const accel = (await cmdlineOf(pidOf(await c.get(APP, m.id)))).includes('kvm') ? 'kvm' : 'tcg'
    report('proxy', {
      case: 'autostart',
      medianMs: round(median(wake), 1),
      minMs: round(Math.min(...wake), 1),
      maxMs: round(Math.max(...wake), 1),
      samples: SAMPLES,
      driver: 'qemu',
      kernel: KERNEL,
      accel,
      resumeMedianMs: round(median(resume), 1),
      overhead: round(median(wake) / median(resume), 3),
      probe: PROBE_PATH,
      loadAvg1: loadAvg
    })
  } finally {
    await cluster.stop()
  }
}
