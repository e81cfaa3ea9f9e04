import test from 'ava'
import { HttpFramingError, chunkedFramer, lengthFramer, type BodyFramer, type FramingErrorCode } from '../../../src/proxy/http/body-framer.js'
import { RoostError } from '../../../src/errors/roost-error.js'

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1')
const NEXT = 'GET /next HTTP/1.1\r\nHost: a\r\n\r\n'

/** A deterministic PRNG (mulberry32), so that random splits are the same on every run. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Feeds `buf` in pieces of the given sizes; returns the bytes the framer claimed and where it finished. */
function feed (framer: BodyFramer, buf: Buffer, sizes: () => number): { claimed: number, doneAt: number } {
  let claimed = 0
  let doneAt = -1
  let pos = 0
  while (pos < buf.length) {
    const n = Math.min(buf.length - pos, Math.max(1, sizes()))
    const piece = buf.subarray(pos, pos + n)
    const used = framer.push(piece)
    if (used < 0 || used > n) throw new Error(`push claimed ${used} of ${n}`)
    if (doneAt !== -1 && used !== 0) throw new Error('a done framer claimed bytes')
    if (used < n && !framer.done) throw new Error('a framer left bytes over without being done')
    claimed += used
    if (framer.done && doneAt === -1) doneAt = pos + used
    pos += n
  }
  return { claimed, doneAt }
}

test('lengthFramer: claims exactly its length however the bytes come', t => {
  const body = bytes('hello world' + NEXT)
  for (const split of [() => 1, () => 3, () => 1000]) {
    const f = lengthFramer(11)
    t.false(f.done)
    const { claimed, doneAt } = feed(f, body, split)
    t.is(claimed, 11)
    t.is(doneAt, 11)
    t.true(f.done)
  }
})

test('lengthFramer: zero is done at once; offset is honoured', t => {
  const zero = lengthFramer(0)
  t.true(zero.done)
  t.is(zero.push(bytes('abc')), 0)
  const f = lengthFramer(4)
  t.is(f.push(bytes('HEADabcdefg'), 4), 4)
  t.true(f.done)
  t.is(f.push(bytes('more')), 0)
  const g = lengthFramer(10)
  t.is(g.push(bytes('xxab'), 2), 2)
  t.false(g.done)
})

const validChunked: Array<[string, string]> = [
  ['last chunk only', '0\r\n\r\n'],
  ['one chunk', '5\r\nhello\r\n0\r\n\r\n'],
  ['lowercase hex', 'a\r\n0123456789\r\n0\r\n\r\n'],
  ['uppercase hex', 'A\r\n0123456789\r\n0\r\n\r\n'],
  ['leading zeros', '0005\r\nhello\r\n0000\r\n\r\n'],
  ['16 hex digits', '0000000000000003\r\nabc\r\n0\r\n\r\n'],
  ['several chunks', '1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n'],
  ['data that looks like framing', '7\r\n0\r\n\r\nab\r\n5\r\n\r\n0\r\n\r\n0\r\n\r\n'],
  ['extension name', '5;foo\r\nhello\r\n0\r\n\r\n'],
  ['extension token value', '5;foo=bar\r\nhello\r\n0\r\n\r\n'],
  ['extension quoted value', '5;foo="b a;r=\\"x\\" \tz"\r\nhello\r\n0\r\n\r\n'],
  ['several extensions', "5;a=1;b;c=\"x\";d=!#$%&'*+-.^_`|~\r\nhello\r\n0\r\n\r\n"],
  ['quoted value with obs-text', '5;a="caf\xe9"\r\nhello\r\n0\r\n\r\n'],
  ['extension on the last chunk', '5\r\nhello\r\n0;last=yes\r\n\r\n'],
  ['empty quoted value', '1;a=""\r\nx\r\n0\r\n\r\n'],
  ['one trailer', '5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n'],
  ['several trailers', '0\r\nA: 1\r\nB:2\r\nC: \t x y \t\r\n\r\n'],
  ['trailer with empty value and obs-text', '0\r\nX-Empty:\r\nX-Latin: caf\xe9\r\n\r\n'],
  ['binary data', `100\r\n${Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('')}\r\n0\r\n\r\n`],
  ['big chunk', `${(70000).toString(16)}\r\n${'z'.repeat(70000)}\r\n0\r\n\r\n`]
]

for (const [name, body] of validChunked) {
  test(`chunked: ${name} — whole, byte by byte, and in random pieces`, t => {
    const buf = bytes(body + NEXT)
    const whole = chunkedFramer()
    t.is(whole.push(buf), body.length)
    t.true(whole.done)
    t.is(whole.push(buf), 0)
    const one = chunkedFramer()
    t.deepEqual(feed(one, buf, () => 1), { claimed: body.length, doneAt: body.length })
    const rand = prng(body.length)
    for (let round = 0; round < 50; round++) {
      const max = 1 + Math.floor(rand() * 12)
      const f = chunkedFramer()
      const r = feed(f, buf, () => 1 + Math.floor(rand() * max))
      if (r.claimed !== body.length || r.doneAt !== body.length) t.fail(`round ${round}: ${JSON.stringify(r)}`)
    }
    // With an offset: the body starting mid-buffer, after a head.
    const withHead = bytes('HEAD' + body + NEXT)
    const off = chunkedFramer()
    t.is(off.push(withHead, 4), body.length)
    t.true(off.done)
  })
}

test('chunked: every split point of a body with extensions and trailers', t => {
  const body = '3;x="a\\"b"\r\nabc\r\n10\r\n0123456789abcdef\r\n0;e=1\r\nT: v\r\n\r\n'
  const buf = bytes(body + NEXT)
  for (let i = 0; i <= buf.length; i++) {
    for (let j = i; j <= buf.length; j += 7) {
      const f = chunkedFramer()
      const a = f.push(buf.subarray(0, i))
      const b = f.push(buf.subarray(i, j))
      const c = f.push(buf.subarray(j))
      if (a + b + c !== body.length || !f.done) t.fail(`split at ${i}/${j}: ${a}+${b}+${c}`)
    }
  }
  t.pass()
})

test('chunked: pipelined bodies — each framer hands the rest to the next', t => {
  const bodies = ['3\r\nabc\r\n0\r\n\r\n', '0\r\n\r\n', '1\r\nz\r\n0\r\nT: 1\r\n\r\n']
  const buf = bytes(bodies.join(''))
  let offset = 0
  for (const body of bodies) {
    const f = chunkedFramer()
    const used = f.push(buf, offset)
    t.is(used, body.length)
    t.true(f.done)
    offset += used
  }
  t.is(offset, buf.length)
})

test('chunked: the largest size that fits a safe integer is accepted', t => {
  const f = chunkedFramer()
  const line = bytes(`${Number.MAX_SAFE_INTEGER.toString(16)}\r\nsome data`)
  t.is(f.push(line), line.length)
  t.false(f.done)
})

const invalidChunked: Array<[string, string, FramingErrorCode]> = [
  ['empty size line', '\r\n', 'bad-chunk-size'],
  ['non-hex size', 'g\r\n', 'bad-chunk-size'],
  ['SP before size', ' 5\r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
  ['SP after size', '5 \r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
  ['HTAB before extension', '5\t;a\r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
  ['signed size', '+5\r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
  ['negative size', '-5\r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
  ['0x prefix', '0x5\r\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
  ['size line ended by LF', '5\nhello\r\n0\r\n\r\n', 'bad-chunk-size'],
  ['size line ended by CR CR', '5\r\rhello\r\n0\r\n\r\n', 'bad-chunk-line-end'],
  ['17 hex digits', '00000000000000005\r\nhello\r\n0\r\n\r\n', 'chunk-size-too-large'],
  ['size over MAX_SAFE_INTEGER', '20000000000000\r\n', 'chunk-size-too-large'],
  ['size of 2^64', 'ffffffffffffffff\r\n', 'chunk-size-too-large'],
  ['SP after semicolon', '5; a\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['SP before equals', '5;a =b\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['SP after equals', '5;a= b\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['extension without name', '5;\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['extension with empty value', '5;a=\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['unterminated quoted value', '5;a="x\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['junk after quoted value', '5;a="x"y\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['LF inside an extension', '5;a=b\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['NUL inside a quoted value', '5;a="\x00"\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['CR escaped in a quoted value', '5;a="\\\r"\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['non-token extension name', '5;a@b\r\nhello\r\n0\r\n\r\n', 'bad-chunk-ext'],
  ['data longer than the size', '5\r\nhelloX\r\n0\r\n\r\n', 'bad-chunk-data-end'],
  ['data shorter than the size', '5\r\nhell\r\n0\r\n\r\n', 'bad-chunk-data-end'],
  ['data ended by LF', '5\r\nhello\n0\r\n\r\n', 'bad-chunk-data-end'],
  ['data followed by a byte and LF', '5\r\nhelloX\n0\r\n\r\n', 'bad-chunk-data-end'],
  ['data followed by CR and a byte', '5\r\nhello\rX0\r\n\r\n', 'bad-chunk-data-end'],
  ['data ended by CR alone', '5\r\nhello\r0\r\n\r\n', 'bad-chunk-data-end'],
  ['last chunk then LF', '0\r\n\n', 'bad-trailer'],
  ['trailer line ended by LF', '0\r\nX: a\nY: b\r\n\r\n', 'bad-trailer'],
  ['obs-fold in trailers', '0\r\nX: a\r\n b\r\n\r\n', 'bad-trailer'],
  ['SP before colon in a trailer', '0\r\nX : a\r\n\r\n', 'bad-trailer'],
  ['empty trailer name', '0\r\n: a\r\n\r\n', 'bad-trailer'],
  ['NUL in a trailer value', '0\r\nX: a\x00\r\n\r\n', 'bad-trailer'],
  ['final CR CR', '0\r\n\r\r', 'bad-trailer'],
  ['trailer line without colon', '0\r\nX\r\n\r\n', 'bad-trailer']
]

for (const [name, body, code] of invalidChunked) {
  test(`chunked refused: ${name} — whole and byte by byte`, t => {
    const whole = chunkedFramer()
    const err = t.throws(() => whole.push(bytes(body)), { instanceOf: HttpFramingError })
    t.is(err?.framingCode, code)
    t.is(err?.code, 'ERR_HTTP_FRAMING')
    t.true(err instanceof RoostError)
    const one = chunkedFramer()
    const buf = bytes(body)
    let thrown: unknown
    for (let i = 0; i < buf.length && thrown === undefined; i++) {
      try {
        one.push(buf.subarray(i, i + 1))
      } catch (e) {
        thrown = e
      }
      if (one.done) t.fail('a malformed body ended')
    }
    t.true(thrown instanceof HttpFramingError, 'byte by byte throws too')
    t.is((thrown as HttpFramingError).framingCode, code)
  })
}

test('chunked limits: extension bytes per chunk line and trailer bytes are bounded', t => {
  const f = chunkedFramer({ maxChunkExtBytes: 8 })
  t.is(f.push(bytes('1;abcdef\r\nx\r\n')), 13)
  t.throws(() => f.push(bytes('1;abcdefgh\r\n')), { instanceOf: HttpFramingError, message: /chunk-ext-too-large/ })
  const many = chunkedFramer({ maxChunkExtBytes: 8 })
  // The bound is per chunk line: many small extensions on many chunks are fine.
  t.is(many.push(bytes('1;abcdef\r\nx\r\n'.repeat(100))), 1300)
  const tr = chunkedFramer({ maxTrailerBytes: 12 })
  t.throws(() => tr.push(bytes('0\r\nX-Long: 123456789\r\n\r\n')), { instanceOf: HttpFramingError, message: /trailer-too-large/ })
  const ok = chunkedFramer({ maxTrailerBytes: 12 })
  const body = '0\r\nX: 12345\r\n\r\n'
  t.is(ok.push(bytes(body + NEXT)), body.length)
  t.true(ok.done)
  const dflt = chunkedFramer()
  t.throws(() => dflt.push(bytes(`1;a="${'x'.repeat(5000)}"\r\n`)), { instanceOf: HttpFramingError, message: /chunk-ext-too-large/ })
  const dfltTrailer = chunkedFramer()
  t.throws(() => dfltTrailer.push(bytes(`0\r\nX: ${'x'.repeat(17000)}\r\n\r\n`)), { instanceOf: HttpFramingError, message: /trailer-too-large/ })
})
