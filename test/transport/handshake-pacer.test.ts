import test from 'ava'
import { createHandshakePacer, paceServerHandshakes } from '../../src/transport/handshake-pacer.js'

const turn = async (): Promise<void> => { await new Promise<void>(resolve => { setImmediate(resolve) }) }

test('at most perTurn handshakes proceed per event-loop turn; the rest follow in later turns, in order', async t => {
  const pacer = createHandshakePacer({ perTurn: 3 })
  const order: number[] = []
  const all = Array.from({ length: 8 }, async (_, i) => { await pacer.acquire(); order.push(i) })
  await Promise.resolve()
  t.deepEqual(order, [0, 1, 2], 'three at once')
  await turn()
  t.deepEqual(order, [0, 1, 2, 3, 4, 5])
  await turn()
  t.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7])
  await Promise.all(all)
  t.like(pacer.stats(), { paced: 5, refused: 0, waiting: 0 })
})

test('past maxWaiting a handshake is refused with a typed error', async t => {
  const pacer = createHandshakePacer({ perTurn: 1, maxWaiting: 2 })
  const ok = [pacer.acquire(), pacer.acquire(), pacer.acquire()]
  await t.throwsAsync(pacer.acquire(), { code: 'ERR_ADMISSION' })
  await Promise.all(ok)
  t.like(pacer.stats(), { refused: 1 })
})

test('a paced server runs each handshake\'s first step only when the pacer lets it', async t => {
  const pacer = createHandshakePacer({ perTurn: 1 })
  const ran: string[] = []
  const server = { createHandshake: (_kp: unknown, _rpk: unknown) => ({ recv: (buf: Buffer) => { ran.push(buf.toString()); return { ok: buf.toString() } } }) }
  paceServerHandshakes(server, pacer)
  const a = server.createHandshake(null, null).recv(Buffer.from('a'))
  const b = server.createHandshake(null, null).recv(Buffer.from('b'))
  await Promise.resolve()
  t.deepEqual(ran, ['a'])
  t.deepEqual(await a, { ok: 'a' })
  t.deepEqual(await b, { ok: 'b' })
  t.deepEqual(ran, ['a', 'b'])
})
