import type { ExecutionContext } from 'ava'
import { randomBytes } from 'node:crypto'
import { freeUdpPort } from '../../src/cli/local-cluster.js'
import { createDhtBootstrap, type DhtBootstrap } from '../../src/dht/bootstrap.js'
import { silentLogger } from '../../src/log/logger.js'
import type { HyperswarmTransportInit } from '../../src/transport/hyperswarm-transport.js'

export const CONNECT_TIMEOUT_MS = 1500

/** A local DHT bootstrap node, registered for teardown before any transport (teardowns run last-in first-out, so it stops last). */
export async function bootstrap (t: ExecutionContext): Promise<DhtBootstrap> {
  const boot = createDhtBootstrap({ host: '127.0.0.1', port: await freeUdpPort() }, { logger: silentLogger() })
  t.teardown(async () => { await boot.stop() })
  await boot.start()
  return boot
}

/** A test host's transport settings: a fresh key, cluster `test`, the local bootstrap. */
export function transportInit (boot: DhtBootstrap, overrides: Partial<HyperswarmTransportInit> = {}): HyperswarmTransportInit {
  return {
    cluster: 'test',
    secret: 'test-secret',
    seed: randomBytes(32),
    name: 'h',
    version: '0.0.0-test',
    bootstrap: [boot.address()],
    host: '127.0.0.1',
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    ...overrides
  }
}
