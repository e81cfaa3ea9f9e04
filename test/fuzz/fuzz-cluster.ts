import { cpus } from 'node:os'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startLocalCluster, type LocalCluster, type LocalHost } from '../../src/cli/local-cluster.js'

const BIN = fileURLToPath(new URL('../../bin/roost.js', import.meta.url))

/** The agent under fuzz: what the drivers need to reach it, from its data dir. */
export interface FuzzTarget {
  host: LocalHost
  hostId: string
  pid: number
  apiUrl: string
  apiToken: string
}

/** Three agents on loopback: `h1` is the target, `h2` and `h3` the peers whose view of it is watched. */
export interface FuzzCluster {
  cluster: LocalCluster
  secret: string
  clusterName: string
  target: () => FuzzTarget
  peers: () => LocalHost[]
  targetAlive: () => boolean
  /** Waits up to `ms` for the target process to exit (it stopped answering). */
  exited: (ms: number) => Promise<void>
  /** Starts the target again after it died (the run counts a crash) and waits for it to rejoin. */
  restartTarget: () => Promise<void>
  stop: () => Promise<void>
}

async function readTarget (host: LocalHost): Promise<FuzzTarget> {
  const info = JSON.parse(await readFile(join(host.dataDir, 'agent.json'), 'utf8')) as { hostId: string, pid: number, api: string }
  const apiToken = (await readFile(join(host.dataDir, 'api.token'), 'utf8')).trim()
  return { host, hostId: info.hostId, pid: info.pid, apiUrl: info.api, apiToken }
}

/**
 * `targetCpu`: the CPU the target agent gets to itself (its peers go on the others). The bench
 * sets it so the stall it measures is the target's own work, not the harness's or the peers'.
 * `targetNice`: instead (or as well), the target's priority, so it runs before the harness on any CPU.
 */
export async function startFuzzCluster (dir: string, opts: { targetCpu?: number, targetNice?: number } = {}): Promise<FuzzCluster> {
  const clusterName = 'dev'
  // The process driver: a fuzz case never gets as far as a VM (images do not exist), and no QEMU is needed.
  const others = opts.targetCpu === undefined ? undefined : [...Array(cpus().length).keys()].filter(c => c !== opts.targetCpu).join(',')
  const cluster = await startLocalCluster({
    binPath: BIN,
    hosts: 3,
    dir,
    logLevel: 'info',
    cluster: clusterName,
    agentArgs: ['--driver', 'process'],
    perHost: (name: string) => {
      const cpus = opts.targetCpu === undefined ? undefined : name === 'h1' ? String(opts.targetCpu) : others
      // FUZZ_CPU_PROF=<dir>: the target writes a V8 CPU profile there when it exits; FUZZ_NODE_ARGS: more node flags for it (e.g. --trace-gc).
      const prof = process.env.FUZZ_CPU_PROF
      const nodeArgs = [...(prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]), ...(process.env.FUZZ_NODE_ARGS?.split(' ').filter(a => a !== '') ?? [])]
      return {
        ...(cpus === undefined || cpus === '' ? {} : { cpus }),
        ...(opts.targetNice === undefined || name !== 'h1' ? {} : { nice: opts.targetNice }),
        ...(nodeArgs.length === 0 || name !== 'h1' ? {} : { nodeArgs })
      }
    }
  })
  try {
    await cluster.waitForMembership(60_000)
    const secret = (await readFile(cluster.secretFile, 'utf8')).trim()
    let target = await readTarget(cluster.hosts[0] as LocalHost)
    const alive = (h: LocalHost): boolean => h.process.exitCode === null && h.process.signalCode === null
    return {
      cluster,
      secret,
      clusterName,
      target: () => target,
      peers: () => cluster.hosts.slice(1),
      targetAlive: () => alive(target.host),
      exited: async (ms) => {
        if (!alive(target.host)) return
        await new Promise<void>(resolve => {
          const t = setTimeout(resolve, ms)
          target.host.process.once('exit', () => { clearTimeout(t); resolve() })
        })
      },
      restartTarget: async () => {
        const host = await cluster.startHost(target.host.name)
        await cluster.waitForMembership(60_000)
        target = await readTarget(host)
      },
      stop: async () => { await cluster.stop() }
    }
  } catch (err) {
    await cluster.stop()
    throw err
  }
}
