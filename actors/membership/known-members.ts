import type { ActorSystem } from '../../src/runtime/system.js'
import { ref } from '../../src/runtime/ref.js'
import type { MembershipProtocol } from './messages.js'

/**
 * The hosts this host's gossip knows of, with their names (for `resolveHost`: a host gossip
 * knows may never have connected to this one); none when the membership actor does not answer
 * within a second.
 */
export async function knownMembers (system: ActorSystem): Promise<Array<{ hostId: string, name: string }>> {
  const r = await system.ask(ref<MembershipProtocol>(system.hostId, '/agent/membership'), { type: 'membership.list' }, { timeoutMs: 1_000 }).catch(() => undefined)
  return r?.members ?? []
}
