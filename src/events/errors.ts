import { RejectionError } from '../errors/roost-error.js'
import { defineError } from '../errors/errors.js'

/** The agent already serves as many event streams (`/v1/events` as server-sent events) as it allows. */
export const EventStreamsFullError = defineError('EventStreamsFullError', 'ERR_EVENT_STREAMS_FULL', RejectionError)
export type EventStreamsFullError = InstanceType<typeof EventStreamsFullError>
