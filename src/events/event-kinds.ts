import { Type, type Static } from '@sinclair/typebox'

/** What a host records in its event stream. */
export const EVENT_KINDS = [
  'host.joined',
  'host.suspect',
  'host.alive',
  'host.dead',
  'host.left',
  'machine.state',
  'placement',
  'failover',
  'router.error',
  'certificate'
] as const

export type EventKind = typeof EVENT_KINDS[number]

/**
 * One event of a host's stream. `seq` orders the events of one host (it goes on across agent
 * restarts); events of different hosts are ordered by `at` only.
 */
export interface RoostEvent {
  seq: number
  /** When it was recorded (ms since the epoch). */
  at: number
  /** Name of the host that recorded it. */
  host: string
  kind: EventKind
  /** One line for people. */
  message: string
  data?: Record<string, unknown>
}

/** The schema of {@link RoostEvent} (the `agent.events` reply carries events checked against it). */
export const RoostEventSchema = Type.Object({
  seq: Type.Integer({ minimum: 1 }),
  at: Type.Number(),
  host: Type.String(),
  kind: Type.Union(EVENT_KINDS.map(k => Type.Literal(k))),
  message: Type.String(),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
})

// A compile-time check that the schema and the interface say the same thing.
const sameShape: Static<typeof RoostEventSchema> extends RoostEvent ? (RoostEvent extends Static<typeof RoostEventSchema> ? true : never) : never = true
void sameShape

/** What the families that report events get: recording only. */
export interface EventRecorder {
  /** Appends an event to this host's stream and returns it. */
  record: (kind: EventKind, message: string, data?: Record<string, unknown>) => RoostEvent
}

/** Longest `message` kept (longer ones are cut, so one event stays one line of a terminal or two). */
export const MAX_MESSAGE_CHARS = 300
