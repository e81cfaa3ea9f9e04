import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test, { type ExecutionContext } from 'ava'
import type { ControlApi } from '../../src/api/control-api.js'
import { connectControl } from '../../src/api/control-client.js'
import { createControlServer, type ControlServer } from '../../src/api/control-server.js'
import { createCodec } from '../../src/codec/codec.js'
import { encodeFrame, FrameDecoder } from '../../src/codec/frame.js'
import { ControlCallRefusedError } from '../../src/errors/errors.js'
import { errorFromWire, type WireError } from '../../src/errors/roost-error.js'
import { silentLogger, type Logger } from '../../src/log/logger.js'
import { pino } from 'pino'
import { retry } from '../helpers/retry.js'

const codec = createCodec()

interface Served {
  server: ControlServer
  socketPath: string
  /** Calls the API's methods received, by name. */
  calls: string[]
}

async function serve (t: ExecutionContext, budgets: { connectionBudgetBytes?: number, totalBudgetBytes?: number } = {}, logger: Logger = silentLogger()): Promise<Served> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-control-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const calls: string[] = []
  const api: ControlApi = {
    info: async () => { calls.push('info'); return { hello: 'world' } },
    members: async () => { calls.push('members'); return [] },
    state: async () => { calls.push('state'); return [] },
    send: async (target) => { calls.push('send'); return { host: 'h', path: target, type: 't', reply: null, elapsedMs: 0 } },
    mesh: async () => { throw new Error('not here') },
    timeline: async () => { calls.push('timeline'); return [] },
    shutdown: async () => { calls.push('shutdown') }
  }
  const socketPath = join(dir, 'control.sock')
  const server = createControlServer({ socketPath, ...budgets }, { logger, codec, api })
  await server.start()
  t.teardown(async () => { await server.stop() })
  return { server, socketPath, calls }
}

/** A raw connection that sends comlink messages as frames and collects the replies by id. */
async function rawClient (t: ExecutionContext, socketPath: string): Promise<{ socket: Socket, call: (msg: Record<string, unknown>) => Promise<Record<string, unknown>> }> {
  const socket = createConnection(socketPath)
  t.teardown(() => { socket.destroy() })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const waiting = new Map<string, (reply: Record<string, unknown>) => void>()
  const decoder = new FrameDecoder({
    onFrame: (payload) => {
      const reply = codec.decode(payload) as Record<string, unknown>
      waiting.get(String(reply.id))?.(reply)
    },
    onError: () => {}
  })
  socket.on('data', (chunk: Buffer) => { decoder.push(chunk) })
  let next = 0
  return {
    socket,
    call: async (msg) => {
      const id = `raw-${next++}`
      const reply = new Promise<Record<string, unknown>>(resolve => { waiting.set(id, resolve) })
      socket.write(encodeFrame(codec.encode({ ...msg, id })))
      return await reply
    }
  }
}

/** The roost error a comlink reply carries, or undefined for a value. */
function thrown (reply: Record<string, unknown>): Error | undefined {
  if (reply.type !== 'HANDLER' || reply.name !== 'throw') return undefined
  const value = reply.value as { roost?: boolean, value: WireError }
  return value.roost === true ? errorFromWire(value.value) : new Error(JSON.stringify(value.value))
}

const raw = (value: unknown): { type: 'RAW', value: unknown } => ({ type: 'RAW', value })

test('the control socket refuses every comlink request but a call of a listed method, and Object.prototype stays untouched', async t => {
  const { socketPath, calls } = await serve(t)
  const c = await rawClient(t, socketPath)
  const refused: Array<Record<string, unknown>> = [
    { type: 'SET', path: ['__proto__', 'polluted'], value: raw('yes') },
    { type: 'SET', path: ['constructor', 'prototype', 'polluted'], value: raw('yes') },
    { type: 'SET', path: ['info'], value: raw('replaced') },
    { type: 'GET', path: ['constructor', 'constructor'] },
    { type: 'GET', path: ['info'] },
    { type: 'APPLY', path: ['constructor', 'constructor'], argumentList: [raw('return process')] },
    { type: 'APPLY', path: ['__proto__', 'toString'], argumentList: [] },
    { type: 'APPLY', path: ['hasOwnProperty'], argumentList: [raw('info')] },
    { type: 'APPLY', path: ['notListed'], argumentList: [] },
    { type: 'APPLY', path: ['info'], argumentList: [{ type: 'HANDLER', name: 'proxy', value: {} }] },
    { type: 'APPLY', path: ['info'], argumentList: [{ type: 'HANDLER', name: 'throw', value: { isError: true, roost: true, value: { code: 'ERR_X', message: 'x' } } }] },
    { type: 'APPLY', path: 'info', argumentList: [] },
    { type: 'CONSTRUCT', path: ['info'], argumentList: [] },
    { type: 'ENDPOINT', path: [] },
    { type: 'RELEASE', path: ['constructor'] },
    { path: ['info'] }
  ]
  for (const msg of refused) {
    const err = thrown(await c.call(msg))
    t.true(err instanceof ControlCallRefusedError, `${JSON.stringify(msg)}: ${err?.constructor.name}: ${err?.message}`)
    t.is((err as ControlCallRefusedError).code, 'ERR_CONTROL_CALL_REFUSED')
  }
  t.false('polluted' in {}, 'Object.prototype was not polluted')
  t.is(Object.getOwnPropertyNames(Object.prototype).includes('polluted'), false)
  t.deepEqual(calls, [], 'no API method ran')
  // The listed calls still work on the same connection.
  const ok = await c.call({ type: 'APPLY', path: ['info'], argumentList: [] })
  t.is(thrown(ok), undefined)
  t.deepEqual((ok as { value: unknown }).value, { hello: 'world' })
  t.deepEqual(calls, ['info'])
})

test('refused calls log at most 5 lines per 10 s (a looping client is not a log flood), and every one is still answered', async t => {
  const lines: Array<{ msg: string }> = []
  const { socketPath } = await serve(t, {}, pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as never) } }))
  const c = await rawClient(t, socketPath)
  for (let i = 0; i < 30; i++) t.true(thrown(await c.call({ type: 'GET', path: ['info'] })) instanceof ControlCallRefusedError)
  t.is(lines.filter(l => l.msg === 'refused a control call').length, 5)
})

test('the CLI client gets ControlCallRefusedError for a property walk, and its calls work', async t => {
  const { socketPath } = await serve(t)
  const client = await connectControl(socketPath)
  t.teardown(() => { client.close() })
  const walk = client.api as unknown as { constructor: { constructor: Promise<unknown> } }
  const err = await t.throwsAsync(client.call(async () => await walk.constructor.constructor))
  t.true(err instanceof ControlCallRefusedError, `${err?.constructor.name}: ${err?.message}`)
  t.deepEqual(await client.call(async api => await api.info()), { hello: 'world' })
})

test('half-sent frames are held within the per-connection and total byte budgets, and released when their connections close', async t => {
  const perConnection = 64 * 1024
  const total = 256 * 1024
  const { server, socketPath } = await serve(t, { connectionBudgetBytes: perConnection, totalBudgetBytes: total })
  const announced = 30 * 1024
  const sent = 20 * 1024
  const held = 4 + sent
  const sockets: Socket[] = []
  const closed = new Set<Socket>()
  for (let i = 0; i < 20; i++) {
    const s = createConnection(socketPath)
    s.on('error', () => {})
    s.on('close', () => { closed.add(s) })
    sockets.push(s)
    t.teardown(() => { s.destroy() })
    const header = Buffer.alloc(4)
    header.writeUInt32BE(announced)
    s.write(Buffer.concat([header, Buffer.alloc(sent, 0x61)]))
  }
  // Every connection is either holding its half frame or was closed for going over the total.
  await retry(async () => {
    const st = server.stats()
    return st.heldBytes % held === 0 && st.heldBytes / held + closed.size === sockets.length
  }, { timeoutMs: 10_000, what: 'every half frame accounted for' })
  const st = server.stats()
  t.true(st.heldBytes <= total, `${st.heldBytes} held`)
  t.true(closed.size >= sockets.length - Math.floor(total / held), `${closed.size} closed`)
  t.is(st.exceeded, closed.size, 'each closed connection went over the total')

  // One connection alone cannot hold more than its budget: a larger frame closes it.
  const big = createConnection(socketPath)
  big.on('error', () => {})
  const bigClosed = new Promise<void>(resolve => { big.once('close', () => { resolve() }) })
  const header = Buffer.alloc(4)
  header.writeUInt32BE(perConnection * 4)
  big.write(Buffer.concat([header, Buffer.alloc(perConnection, 0x62)]))
  await bigClosed
  t.true(server.stats().heldBytes <= total)

  for (const s of sockets) s.destroy()
  await retry(async () => server.stats().heldBytes === 0 && server.stats().connections === 0, { timeoutMs: 10_000, what: 'held bytes released' })
  t.pass()
})
