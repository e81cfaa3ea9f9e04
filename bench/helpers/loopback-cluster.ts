import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { exited, freeUdpPort } from '../../src/cli/local-cluster.js'
import { createDhtBootstrap } from '../../src/dht/bootstrap.js'
import { createLogger } from '../../src/log/logger.js'
import { spawnDispatchProcess, type BenchAgentConfig } from './dispatch-processes.js'

/** What {@link withLoopbackCluster} gives its body. */
export interface LoopbackCluster {
  /** The fields every process's config shares: cluster, secret, the bootstrap, 127.0.0.1, no WireGuard. */
  common: Pick<BenchAgentConfig, 'cluster' | 'secretFile' | 'bootstrap' | 'host' | 'wireguard'>
  /** A data dir for the process named `name`. */
  dataDir: (name: string) => string
  /** Starts a dispatch process (as spawnDispatchProcess) that is stopped when the body ends. */
  spawn: (...args: Parameters<typeof spawnDispatchProcess>) => ChildProcess
}

/**
 * Runs `body` with a DHT bootstrap on 127.0.0.1, a cluster secret and a temporary dir; afterwards,
 * however it ended, stops every process it spawned, the bootstrap, and removes the dir.
 */
export async function withLoopbackCluster<T> (cluster: string, body: (c: LoopbackCluster) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `roost-bench-${cluster}-`))
  const children: ChildProcess[] = []
  const boot = createDhtBootstrap({ host: '127.0.0.1', port: await freeUdpPort() }, { logger: createLogger({ level: 'warn' }) })
  await boot.start()
  const secretFile = join(dir, 'secret')
  await writeFile(secretFile, randomBytes(24).toString('base64url'), { mode: 0o600 })
  try {
    return await body({
      common: { cluster, secretFile, bootstrap: boot.address(), host: '127.0.0.1', wireguard: 'off' },
      dataDir: (name) => join(dir, name),
      spawn: (...args) => {
        const c = spawnDispatchProcess(...args)
        children.push(c)
        return c
      }
    })
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
    await Promise.all(children.map(async c => { await exited(c) }))
    await boot.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
