import test from 'ava'
import { findHeadEnd } from '../../../src/proxy/http/head-end.js'

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')

const cases: Array<[string, string, number]> = [
  ['empty', '', -1],
  ['no end yet', 'GET / HTTP/1.1\r\nHost: a\r\n', -1],
  ['end', 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 27],
  ['end followed by a body', 'GET / HTTP/1.1\r\nHost: a\r\n\r\nbody\r\n\r\n', 27],
  ['a lone CRLF pair', '\r\n\r\n', -1],
  ['leading empty lines are not the end', '\r\n\r\nGET / HTTP/1.1\r\n', -1],
  ['end after leading empty lines', '\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n', 29],
  ['too many leading empty lines: decide now', '\r\n\r\n\r\nGET', 6],
  ['bare LF: decide now', 'GET / HTTP/1.1\nHost: a', 15],
  ['bare LF first', '\nGET', 1],
  ['LF LF: decide now', 'GET / HTTP/1.1\r\nHost: a\n\n', 24],
  ['CR CR LF is not an end', 'GET / HTTP/1.1\r\nHost: a\r\r\n', -1],
  ['response', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1', 38]
]

for (const [name, raw, expected] of cases) {
  test(`findHeadEnd: ${name}`, t => {
    t.is(findHeadEnd(bytes(raw), 0), expected)
  })
}

test('findHeadEnd: incremental calls find the same end for every split, scanning each byte once', t => {
  const raw = '\r\nPOST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok'
  const end = raw.indexOf('\r\n\r\n', 2) + 4
  for (let cut = 0; cut <= raw.length; cut++) {
    const first = bytes(raw.slice(0, cut))
    const r1 = findHeadEnd(first, 0)
    const r2 = r1 === -1 ? findHeadEnd(bytes(raw), first.length) : r1
    t.is(r2, end, `cut at ${cut}`)
  }
  // Byte by byte.
  let scanned = 0
  let found = -1
  for (let n = 1; n <= raw.length && found === -1; n++) {
    found = findHeadEnd(bytes(raw.slice(0, n)), scanned)
    scanned = n
  }
  t.is(found, end)
})

test('findHeadEnd: a terminator split across reads at every position is found', t => {
  const raw = 'GET / HTTP/1.1\r\nHost: a\r\n\r\n'
  for (let cut = raw.length - 4; cut < raw.length; cut++) {
    t.is(findHeadEnd(bytes(raw.slice(0, cut)), 0), -1)
    t.is(findHeadEnd(bytes(raw), cut), raw.length)
  }
})
