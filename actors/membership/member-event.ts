import type { EventKind } from '../../src/events/event-kinds.js'
import type { MemberInfo, MemberState } from '../../src/gossip/swim.js'

/** What a member's change of state reads as in the event stream. */
export interface MemberEvent {
  kind: Extract<EventKind, `host.${string}`>
  message: string
  data: Record<string, unknown>
}

const KIND: Record<MemberState, MemberEvent['kind']> = { alive: 'host.alive', suspect: 'host.suspect', dead: 'host.dead', left: 'host.left' }
const SAYS: Record<MemberEvent['kind'], string> = {
  'host.joined': 'joined the cluster',
  'host.alive': 'is alive again',
  'host.suspect': 'is suspect (not answering probes)',
  'host.dead': 'is dead',
  'host.left': 'left the cluster'
}

/** The event for member `m` entering its state from `previous` (undefined: first heard of). */
export function memberEvent (m: MemberInfo, previous: MemberState | undefined): MemberEvent {
  const kind = m.state === 'alive' && previous === undefined ? 'host.joined' : KIND[m.state]
  const name = m.meta?.name ?? ''
  const who = name === '' ? m.id.slice(0, 12) : name
  return {
    kind,
    message: `${who} ${SAYS[kind]}${previous === undefined || kind === 'host.joined' ? '' : ` (was ${previous})`}`,
    data: { hostId: m.id, name, state: m.state, previous: previous ?? null, incarnation: m.incarnation, region: m.meta?.region ?? '' }
  }
}
