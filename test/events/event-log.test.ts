import { appendFileSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import test from 'ava'
import { createEventLog, type EventLog, type EventLogInit } from '../../src/events/event-log.js'
import { createEventRing } from '../../src/events/event-ring.js'
import { MAX_MESSAGE_CHARS, type RoostEvent } from '../../src/events/event-kinds.js'
import { silentLogger } from '../../src/log/logger.js'
import type { Clock } from '../../src/runtime/clock.js'
import { tempDir } from '../helpers/cli.js'

const T0 = 1_700_000_000_000

function stepClock (): Clock {
  let time = T0
  return { now: () => time++, setTimeout: () => null, clearTimeout: () => {} }
}

async function started (init: Partial<EventLogInit> & { dir: string | null }): Promise<EventLog> {
  const log = createEventLog({ host: 'h1', ...init }, { logger: silentLogger(), clock: stepClock() })
  await log.start()
  return log
}

const seqs = (events: RoostEvent[]): number[] => events.map(e => e.seq)

test('the ring keeps the newest events in order and finds those after a seq', t => {
  const ring = createEventRing(3)
  const ev = (seq: number): RoostEvent => ({ seq, at: seq, host: 'h', kind: 'placement', message: `m${seq}` })
  t.deepEqual([...ring.after(0)], [])
  for (let s = 1; s <= 5; s++) ring.push(ev(s))
  t.is(ring.size(), 3)
  t.is(ring.oldest()?.seq, 3)
  t.deepEqual(seqs([...ring.after(0)]), [3, 4, 5])
  t.deepEqual(seqs([...ring.after(3)]), [4, 5])
  t.deepEqual(seqs([...ring.after(5)]), [])
  t.throws(() => createEventRing(0), { instanceOf: RangeError })
})

test('events get ascending seqs, this host\'s name and the clock\'s time; queries page by seq, limit and bytes', async t => {
  const log = await started({ dir: null, ringSize: 10 })
  const seen: RoostEvent[] = []
  const off = log.subscribe(e => { seen.push(e) })
  for (let i = 0; i < 15; i++) log.record('machine.state', `event ${i}`, { i })
  off()
  log.record('placement', 'not seen by the unsubscribed')
  t.deepEqual(seqs(seen), Array.from({ length: 15 }, (_, i) => i + 1))
  t.like(seen[0], { seq: 1, at: T0, host: 'h1', kind: 'machine.state', message: 'event 0', data: { i: 0 } })
  const all = log.since(0, 100)
  t.is(all.lastSeq, 16)
  t.is(all.firstSeq, 7, 'the ring holds the newest 10')
  t.deepEqual(seqs(all.events), [7, 8, 9, 10, 11, 12, 13, 14, 15, 16])
  t.deepEqual(seqs(log.since(12, 2).events), [13, 14])
  t.deepEqual(seqs(log.since(16, 5).events), [])
  const oneLine = JSON.stringify(all.events[0]).length
  t.deepEqual(seqs(log.since(0, 100, oneLine * 2 + 1).events), [7, 8], 'about maxBytes of JSON')
  t.deepEqual(seqs(log.since(0, 100, 1).events), [7], 'always at least one')
})

test('messages are one line, cut to length; data that is not JSON is left out rather than failing', async t => {
  const log = await started({ dir: null })
  t.is(log.record('router.error', 'a\nb\r\nc').message, 'a b c')
  t.is(log.record('router.error', 'x'.repeat(1000)).message.length, MAX_MESSAGE_CHARS)
  const cyclic: Record<string, unknown> = {}
  cyclic.self = cyclic
  const e = log.record('placement', 'cyclic', cyclic)
  t.is(e.data, undefined)
  t.is(log.record('placement', 'big', { n: 10n } as unknown as Record<string, unknown>).data, undefined)
})

test('recording before start is a typed error; start and stop are idempotent, stop before start is fine', async t => {
  const log = createEventLog({ host: 'h1', dir: null }, { logger: silentLogger(), clock: stepClock() })
  t.throws(() => log.record('placement', 'too early'), { name: 'NotStartedError' })
  await log.stop()
  const other = createEventLog({ host: 'h1', dir: null }, { logger: silentLogger(), clock: stepClock() })
  await other.start()
  await other.start()
  other.record('placement', 'one')
  await other.stop()
  await other.stop()
  t.is(other.since(0, 10).lastSeq, 1)
})

test('events go to disk as JSON lines and a restarted log reloads them: seqs go on from the last one', async t => {
  const dir = await tempDir(t)
  const a = await started({ dir })
  for (let i = 0; i < 5; i++) a.record('host.joined', `h${i} joined`, { i })
  await a.stop()
  const files = readdirSync(dir)
  t.deepEqual(files, ['events-000000000001.jsonl'])
  const lines = readFileSync(join(dir, files[0] as string), 'utf8').trim().split('\n').map(l => JSON.parse(l) as RoostEvent)
  t.deepEqual(seqs(lines), [1, 2, 3, 4, 5])

  const b = await started({ dir })
  t.deepEqual(seqs(b.since(0, 100).events), [1, 2, 3, 4, 5])
  t.is(b.record('host.dead', 'h1 is dead').seq, 6)
  await b.stop()
})

test('a torn last line (a crash mid-write) and garbage are skipped; the next event starts on its own line', async t => {
  const dir = await tempDir(t)
  const a = await started({ dir })
  a.record('placement', 'one')
  a.record('placement', 'two')
  await a.stop()
  const file = join(dir, 'events-000000000001.jsonl')
  appendFileSync(file, 'not json\n{"seq":"x"}\n{"seq":3,"at":1,"host":"h1","kind":"placem')
  const b = await started({ dir })
  t.deepEqual(seqs(b.since(0, 100).events), [1, 2])
  b.record('placement', 'three')
  await b.stop()
  const c = await started({ dir })
  t.deepEqual(c.since(0, 100).events.map(e => e.message), ['one', 'two', 'three'])
  await c.stop()
})

test('segments rotate by size and the oldest are deleted: disk use stays bounded; a reload still fills the ring', async t => {
  const dir = await tempDir(t)
  const maxFileBytes = 2_000
  const maxFiles = 3
  const a = await started({ dir, maxFileBytes, maxFiles, ringSize: 20 })
  for (let i = 0; i < 300; i++) a.record('machine.state', `machine ${i} started`, { pad: 'x'.repeat(50) })
  await a.stop()
  const files = readdirSync(dir).sort()
  t.is(files.length, maxFiles)
  const bytes = files.reduce((n, f) => n + statSync(join(dir, f)).size, 0)
  t.true(bytes <= maxFiles * maxFileBytes, `${bytes} bytes on disk`)
  for (const f of files) t.true(statSync(join(dir, f)).size <= maxFileBytes, `${f} is within its size`)
  // Each segment is named by its first seq, and the newest holds the last event.
  const newest = readFileSync(join(dir, files.at(-1) as string), 'utf8').trim().split('\n').map(l => JSON.parse(l) as RoostEvent)
  t.is(Number(/(\d+)/.exec(files.at(-1) as string)?.[1]), newest[0]?.seq ?? -1)
  t.is(newest.at(-1)?.seq, 300)

  const b = await started({ dir, maxFileBytes, maxFiles, ringSize: 20 })
  const page = b.since(0, 1000)
  t.is(page.lastSeq, 300)
  const perSegment: number = newest.length
  t.true(perSegment < 20, `${perSegment} events a segment: the ring's 20 span segments`)
  t.deepEqual(seqs(page.events), Array.from({ length: 20 }, (_, i) => 281 + i), 'the newest 20, read across segments')
  t.is(b.record('placement', 'next').seq, 301)
  await b.stop()
})
