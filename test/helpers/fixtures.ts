import { createCodec } from '../../src/codec/codec.js'
import { silentLogger } from '../../src/log/logger.js'
import { createMemoryNetwork, type MemoryNetwork } from '../../src/transport/memory-transport.js'
import { createActorSystem, type ActorSystem } from '../../src/runtime/system.js'
import { hostKey } from './host-keys.js'

/** A fresh host id: a real ed25519 public key, whose signer `hostKeyOf(id)` returns. */
export function randomHostId (): string {
  return hostKey().hostId
}

/** N actor systems joined by an in-memory network, started. */
export async function memoryCluster (n: number, opts: { askTimeoutMs?: number } = {}): Promise<{ net: MemoryNetwork, systems: ActorSystem[], stop: () => Promise<void> }> {
  const net = createMemoryNetwork()
  const systems: ActorSystem[] = []
  for (let i = 0; i < n; i++) {
    const hostId = randomHostId()
    const transport = net.transport({ hostId, name: `m${i + 1}` })
    await transport.start()
    const system = createActorSystem({ hostId, ...(opts.askTimeoutMs === undefined ? {} : { defaultAskTimeoutMs: opts.askTimeoutMs }) }, { logger: silentLogger(), codec: createCodec(), transport })
    await system.start()
    systems.push(system)
  }
  return {
    net,
    systems,
    stop: async () => { for (const s of systems) await s.stop() }
  }
}
