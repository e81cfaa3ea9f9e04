import type { ServiceRowData } from '../gossip/rows.js'
import { callAgent } from './agent-call.js'

/**
 * Publishes an app's services row through the local agent, from where gossip takes it to every
 * host. For now a plain write of the replicated table; once the router checks deploys (port
 * conflicts with other apps), this becomes `{ type: 'router.deploy', spec: row }` to
 * `local/agent/router`.
 */
export async function publishServices (dataDir: string, row: ServiceRowData): Promise<void> {
  await callAgent(dataDir, async api => await api.send('local/agent/membership', { type: 'membership.write', table: 'services', key: row.app, data: row }, { timeoutMs: 10_000 }))
}
