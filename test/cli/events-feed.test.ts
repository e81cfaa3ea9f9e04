import test from 'ava'
import { createEventsFeed, formatEvent, type EventsPage } from '../../src/cli/events-feed.js'
import type { RoostEvent } from '../../src/events/event-kinds.js'

const ev = (host: string, seq: number, at: number): RoostEvent => ({ seq, at, host, kind: 'placement', message: `${host} ${seq}` })

/** Hosts whose streams hold the given events; `first` is the oldest seq each still keeps. */
function fakeHosts (streams: Record<string, RoostEvent[]>, first: Record<string, number> = {}) {
  const asked: Array<[string, number]> = []
  const down = new Set<string>()
  const fetch = async (target: string, since: number, limit: number): Promise<EventsPage> => {
    asked.push([target, since])
    if (down.has(target)) throw new Error('host unreachable')
    const all = streams[target] ?? []
    const kept = all.filter(e => e.seq >= (first[target] ?? 1))
    return { hostId: target, name: target, lastSeq: all.at(-1)?.seq ?? 0, firstSeq: kept[0]?.seq ?? 0, events: kept.filter(e => e.seq > since).slice(0, limit) }
  }
  return { fetch, asked, down }
}

test('a poll merges the hosts\' new events by time, pages through a backlog, and the next poll starts where it left off', async t => {
  const streams = { a: [ev('a', 1, 10), ev('a', 2, 30), ev('a', 3, 50)], b: [ev('b', 1, 20), ev('b', 2, 40)] }
  const hosts = fakeHosts(streams)
  const warnings: string[] = []
  const feed = createEventsFeed({ pageSize: 2, maxPages: 10, since: 0, tolerant: false }, { fetch: hosts.fetch, warn: (l) => { warnings.push(l) } })
  t.deepEqual((await feed.poll(['a', 'b'])).map(e => e.message), ['a 1', 'b 1', 'a 2', 'b 2', 'a 3'])
  t.deepEqual(await feed.poll(['a', 'b']), [])
  streams.b.push(ev('b', 3, 60))
  t.deepEqual((await feed.poll(['a', 'b'])).map(e => e.message), ['b 3'])
  t.deepEqual(hosts.asked.filter(([h]) => h === 'b').map(([, s]) => s), [0, 2, 2], 'b asked from its last seq each time (a full page at its last seq needs no second ask)')
  t.deepEqual(warnings, [])
})

test('a gap (events no longer kept) is said; with --all a host that does not answer is skipped and said once; otherwise its error ends the poll', async t => {
  const hosts = fakeHosts({ a: [ev('a', 1, 1), ev('a', 2, 2), ev('a', 3, 3)], b: [ev('b', 1, 1)] }, { a: 3 })
  const warnings: string[] = []
  const feed = createEventsFeed({ pageSize: 10, maxPages: 10, since: 1, tolerant: true }, { fetch: hosts.fetch, warn: (l) => { warnings.push(l) } })
  hosts.down.add('b')
  t.deepEqual((await feed.poll(['a', 'b'])).map(e => e.message), ['a 3'])
  await feed.poll(['a', 'b'])
  t.deepEqual(warnings, ['a: events 2-2 are no longer kept', 'b: host unreachable'])
  hosts.down.delete('b')
  t.deepEqual(await feed.poll(['a', 'b']), [], 'b had nothing after seq 1')
  t.is(warnings.at(-1), 'b: answering again')

  const strict = createEventsFeed({ pageSize: 10, maxPages: 10, since: 0, tolerant: false }, { fetch: hosts.fetch, warn: () => {} })
  hosts.down.add('b')
  await t.throwsAsync(strict.poll(['a', 'b']), { message: 'host unreachable' })
})

test('an event reads as one line: time, host, seq, kind, message', t => {
  t.is(formatEvent({ seq: 7, at: Date.UTC(2026, 0, 2, 3, 4, 5, 678), host: 'h1', kind: 'host.dead', message: 'h2 is dead (was suspect)' }),
    '2026-01-02T03:04:05.678Z  h1  #7  host.dead      h2 is dead (was suspect)')
})
