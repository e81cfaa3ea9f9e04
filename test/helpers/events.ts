import { createEventLog, type EventLog } from '../../src/events/event-log.js'
import { silentLogger } from '../../src/log/logger.js'
import { systemClock } from '../../src/runtime/clock.js'

/** A started event log that keeps its events in memory only, for tests of the families that record into it. */
export async function memoryEventLog (host: string): Promise<EventLog> {
  const log = createEventLog({ host, dir: null }, { logger: silentLogger(), clock: systemClock })
  await log.start()
  return log
}
