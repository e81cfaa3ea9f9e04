import type { ServiceRowData } from '../gossip/rows.js'
import { callAgent } from './agent-call.js'

/**
 * Publishes an app's services row through the local agent's router, which refuses it when its
 * ports or hostnames collide with other apps' and otherwise writes it to the replicated
 * `services` table, from where gossip takes it to every host's router.
 */
export async function publishServices (dataDir: string, row: ServiceRowData): Promise<void> {
  await callAgent(dataDir, async api => await api.send('local/agent/router', { type: 'router.deploy', spec: row }, { timeoutMs: 10_000 }))
}
