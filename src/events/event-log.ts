import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { NotStartedError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import type { Clock } from '../runtime/clock.js'
import { createEventRing } from './event-ring.js'
import { EVENT_KINDS, MAX_MESSAGE_CHARS, type EventKind, type EventRecorder, type RoostEvent } from './event-kinds.js'

export interface EventLogInit {
  /** Name of this host, written into every event. */
  host: string
  /** Where the segments go (`events-<first seq>.jsonl`); null keeps the stream in memory only. */
  dir: string | null
  /** Events kept in memory (what queries and followers see). */
  ringSize?: number
  /** A segment past this size is closed and a new one begun. */
  maxFileBytes?: number
  /** Segments kept; the oldest go first. Disk use stays under `maxFiles × maxFileBytes` (plus one event). */
  maxFiles?: number
}

export interface EventLogComponents {
  logger: Logger
  clock: Clock
}

/** A page of events. */
export interface EventPage {
  events: RoostEvent[]
  /** The newest seq recorded (0 before any). */
  lastSeq: number
  /** The oldest seq still in memory (0 when none): a `since` below `firstSeq - 1` missed events. */
  firstSeq: number
}

/** One host's ordered event stream: a bounded ring in memory, append-only JSON lines on disk. */
export interface EventLog extends EventRecorder {
  /** Reloads the newest events from disk (seq numbers go on from there) and opens the current segment. */
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Events after `since`, oldest first, at most `limit` of them and about `maxBytes` of JSON. */
  since: (since: number, limit: number, maxBytes?: number) => EventPage
  /** Calls `fn` with every event recorded from now on; returns the unsubscribe. */
  subscribe: (fn: (e: RoostEvent) => void) => () => void
}

export const RING_SIZE = 1_000
export const MAX_FILE_BYTES = 1024 * 1024
export const MAX_FILES = 4
const SEGMENT = /^events-(\d{12})\.jsonl$/
const segmentName = (firstSeq: number): string => `events-${String(firstSeq).padStart(12, '0')}.jsonl`

const isEvent = (v: unknown): v is RoostEvent => {
  const e = v as Partial<RoostEvent> | null
  return e !== null && typeof e === 'object' && Number.isSafeInteger(e.seq) && (e.seq ?? 0) > 0 && typeof e.at === 'number' &&
    typeof e.host === 'string' && typeof e.message === 'string' && EVENT_KINDS.includes(e.kind as EventKind)
}

export function createEventLog (init: EventLogInit, components: EventLogComponents): EventLog {
  const log = components.logger
  const maxFileBytes = init.maxFileBytes ?? MAX_FILE_BYTES
  const maxFiles = Math.max(1, init.maxFiles ?? MAX_FILES)
  const ring = createEventRing(init.ringSize ?? RING_SIZE)
  const subscribers = new Set<(e: RoostEvent) => void>()
  let state: 'new' | 'running' | 'stopped' = 'new'
  let lastSeq = 0
  let fd: number | null = null
  let fileBytes = 0
  let writeFailed = false

  const segments = (dir: string): string[] => readdirSync(dir).filter(f => SEGMENT.test(f)).sort()

  const readSegment = (dir: string, file: string): RoostEvent[] => {
    const out: RoostEvent[] = []
    let bad = 0
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line === '') continue
      try {
        const v: unknown = JSON.parse(line)
        if (isEvent(v)) out.push(v)
        else bad++
      } catch { bad++ }
    }
    // A torn last line after a crash is expected; anything else says the file was edited.
    if (bad > 0) log.warn({ file, bad }, 'event log: skipped unreadable lines')
    return out
  }

  const openSegment = (dir: string, file: string): void => {
    fd = openSync(join(dir, file), 'a', 0o600)
    fileBytes = fstatSync(fd).size
  }

  const reload = (dir: string): void => {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const files = segments(dir)
    const loaded: RoostEvent[][] = []
    let count = 0
    for (let i = files.length - 1; i >= 0 && count < ring.capacity; i--) {
      const events = readSegment(dir, files[i] as string)
      loaded.unshift(events)
      count += events.length
    }
    for (const events of loaded) for (const e of events) if (e.seq > lastSeq) { ring.push(e); lastSeq = e.seq }
    const newest = files.at(-1)
    if (newest === undefined) { openSegment(dir, segmentName(lastSeq + 1)); return }
    openSegment(dir, newest)
    if (fileBytes > 0 && !readFileSync(join(dir, newest), 'utf8').endsWith('\n')) fileBytes += writeSync(fd as unknown as number, '\n')
  }

  const rotate = (dir: string, firstSeq: number): void => {
    if (fd !== null) closeSync(fd)
    fd = null
    openSegment(dir, segmentName(firstSeq))
    const files = segments(dir)
    for (const old of files.slice(0, Math.max(0, files.length - maxFiles))) rmSync(join(dir, old), { force: true })
  }

  const persist = (e: RoostEvent): void => {
    const dir = init.dir
    if (dir === null || state !== 'running') return
    try {
      const line = `${JSON.stringify(e)}\n`
      const bytes = Buffer.byteLength(line)
      if (fd === null || (fileBytes > 0 && fileBytes + bytes > maxFileBytes)) rotate(dir, e.seq)
      fileBytes += writeSync(fd as unknown as number, line)
      writeFailed = false
    } catch (err) {
      if (!writeFailed) log.warn({ err, dir }, 'event log: could not write to disk; events are kept in memory only until writing works again')
      writeFailed = true
    }
  }

  const clean = (message: string): string => {
    const one = message.replace(/[\r\n]+/g, ' ')
    return one.length > MAX_MESSAGE_CHARS ? `${one.slice(0, MAX_MESSAGE_CHARS - 1)}…` : one
  }

  const safeData = (data: Record<string, unknown> | undefined): Record<string, unknown> | undefined => {
    if (data === undefined) return undefined
    try {
      return JSON.parse(JSON.stringify(data)) as Record<string, unknown>
    } catch (err) {
      log.warn({ err }, 'event log: event data is not JSON; recorded without it')
      return undefined
    }
  }

  return {
    async start () {
      if (state !== 'new') return
      if (init.dir !== null) reload(init.dir)
      state = 'running'
      log.debug({ dir: init.dir, lastSeq, inMemory: ring.size() }, 'event log started')
    },
    async stop () {
      if (state !== 'running') { state = 'stopped'; return }
      state = 'stopped'
      if (fd !== null) closeSync(fd)
      fd = null
    },
    record (kind, message, data) {
      if (state === 'new') throw new NotStartedError('the event log records once it has started (and reloaded its seq)')
      const d = safeData(data)
      const e: RoostEvent = { seq: ++lastSeq, at: components.clock.now(), host: init.host, kind, message: clean(message), ...(d === undefined ? {} : { data: d }) }
      ring.push(e)
      persist(e)
      for (const fn of subscribers) {
        try { fn(e) } catch (err) { log.warn({ err }, 'event log: a subscriber failed') }
      }
      return e
    },
    since (since, limit, maxBytes = Number.POSITIVE_INFINITY) {
      const events: RoostEvent[] = []
      let bytes = 0
      for (const e of ring.after(since)) {
        if (events.length >= limit) break
        if (maxBytes !== Number.POSITIVE_INFINITY) {
          bytes += JSON.stringify(e).length
          if (events.length > 0 && bytes > maxBytes) break
        }
        events.push(e)
      }
      return { events, lastSeq, firstSeq: ring.oldest()?.seq ?? 0 }
    },
    subscribe (fn) {
      subscribers.add(fn)
      return () => { subscribers.delete(fn) }
    }
  }
}
