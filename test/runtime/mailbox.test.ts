import test from 'ava'
import { createMailbox, runResult, type Letter } from '../../src/runtime/mailbox.js'

const letter = (n: number): Letter => ({ msg: { type: `m${n}` } })

test('run hands letters over in order, up to the budget', t => {
  const box = createMailbox()
  for (let i = 0; i < 10; i++) box.push(letter(i))
  const seen: string[] = []
  t.deepEqual(box.run(4, l => { seen.push(l.msg.type); return undefined }, runResult()), { handled: 4, awaiting: undefined })
  t.deepEqual(seen, ['m0', 'm1', 'm2', 'm3'])
  t.is(box.size(), 6)
  t.deepEqual(box.run(100, l => { seen.push(l.msg.type); return undefined }, runResult()), { handled: 6, awaiting: undefined })
  t.is(seen.length, 10)
  t.is(box.size(), 0)
  t.deepEqual(box.run(100, () => undefined, runResult()), { handled: 0, awaiting: undefined })
})

test('run stops at the first handler that returns a promise and hands it back, counted as handled', t => {
  const box = createMailbox()
  for (let i = 0; i < 5; i++) box.push(letter(i))
  const pending = Promise.resolve(1)
  const r = box.run(10, l => l.msg.type === 'm2' ? pending : undefined, runResult())
  t.is(r.handled, 3)
  t.is(r.awaiting?.letter.msg.type, 'm2')
  t.is(r.awaiting?.pending, pending)
  t.is(box.size(), 2)
  t.is(box.take()?.msg.type, 'm3')
})

test('a throwing step propagates with its letter already taken', t => {
  const box = createMailbox()
  for (let i = 0; i < 3; i++) box.push(letter(i))
  t.throws(() => box.run(10, l => { if (l.msg.type === 'm1') throw new Error('boom'); return undefined }, runResult()), { message: 'boom' })
  t.is(box.size(), 1)
  t.is(box.take()?.msg.type, 'm2')
})

test('a long queue consumed from the front compacts and keeps its order', t => {
  const box = createMailbox()
  for (let i = 0; i < 5_000; i++) box.push(letter(i))
  for (let i = 0; i < 3_000; i++) t.is(box.take()?.msg.type, `m${i}`)
  for (let i = 5_000; i < 6_000; i++) box.push(letter(i))
  t.is(box.size(), 3_000)
  const rest: string[] = []
  box.run(10_000, l => { rest.push(l.msg.type); return undefined }, runResult())
  t.deepEqual(rest, Array.from({ length: 3_000 }, (_, i) => `m${i + 3_000}`))
})

test('the ring keeps order across wrap-around and growth, and a result passed again is reset', t => {
  const box = createMailbox()
  const out = runResult()
  const seen: string[] = []
  let n = 0
  // Push and take in uneven steps so the head wraps while the ring is partly full, then grows.
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < round % 7 + 10; i++) box.push(letter(n++))
    box.run(round % 5 + 6, l => { seen.push(l.msg.type); return undefined }, out)
    t.true(out.handled > 0)
    t.is(out.awaiting, undefined)
  }
  box.run(Infinity, l => { seen.push(l.msg.type); return undefined }, out)
  t.is(box.size(), 0)
  t.deepEqual(seen, Array.from({ length: n }, (_, i) => `m${i}`))
  box.push(letter(0))
  const pending = Promise.resolve()
  t.is(box.run(1, () => pending, out).awaiting?.pending, pending)
  box.push(letter(1))
  t.is(box.run(1, () => undefined, out).awaiting, undefined)
})

test('a burst drained leaves a small ring, which grows again as needed', t => {
  const box = createMailbox()
  for (let i = 0; i < 3_000; i++) box.push(letter(i))
  t.is(box.size(), 3_000)
  for (let i = 0; i < 3_000; i++) t.is(box.take()?.msg.type, `m${i}`)
  t.is(box.take(), undefined)
  for (let i = 0; i < 40; i++) box.push(letter(i))
  for (let i = 0; i < 40; i++) t.is(box.take()?.msg.type, `m${i}`)
  t.is(box.size(), 0)
})
