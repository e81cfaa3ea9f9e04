import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { VmmError } from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import { connectQmp, type QmpEvent } from '../../src/vmm/qmp-client.js'
import { retry } from '../helpers/retry.js'

interface Command { execute: string, arguments?: Record<string, unknown>, id?: unknown }

/** A fake QMP server: greets, accepts qmp_capabilities, and hands every other command to `onCommand`. */
async function fakeQmp (path: string, onCommand: (cmd: Command, sock: Socket) => void): Promise<{ server: Server, sockets: Socket[] }> {
  const sockets: Socket[] = []
  const server = createServer((sock) => {
    sockets.push(sock)
    sock.write('{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}\r\n')
    let buf = ''
    sock.setEncoding('utf8')
    sock.on('data', (chunk: string) => {
      buf += chunk
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const cmd = JSON.parse(buf.slice(0, nl)) as Command
        buf = buf.slice(nl + 1)
        if (cmd.execute === 'qmp_capabilities') sock.write(JSON.stringify({ return: {}, id: cmd.id }) + '\r\n')
        else onCommand(cmd, sock)
      }
    })
    sock.on('error', () => {})
  })
  await new Promise<void>(resolve => server.listen(path, resolve))
  return { server, sockets }
}

async function tempSocket (t: { teardown: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-qmp-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return join(dir, 'qmp.sock')
}

test('connects once the socket appears, negotiates and executes with ids', async t => {
  const path = await tempSocket(t)
  const seen: Command[] = []
  let server: Server | undefined
  const later = setTimeout(() => {
    void fakeQmp(path, (cmd, sock) => {
      seen.push(cmd)
      sock.write(JSON.stringify({ return: { status: 'running', running: true }, id: cmd.id }) + '\r\n')
    }).then(s => { server = s.server })
  }, 150)
  t.teardown(() => { clearTimeout(later); server?.close() })
  const qmp = await connectQmp({ socketPath: path, connectTimeoutMs: 3000 }, { logger: silentLogger() })
  t.teardown(() => { qmp.close() })
  t.is(qmp.greeting.version?.qemu?.major, 7)
  const status = await qmp.execute<{ status: string }>('query-status')
  t.is(status.status, 'running')
  await qmp.execute('migrate', { uri: 'exec:cat > /tmp/x' })
  t.deepEqual(seen.map(c => c.execute), ['query-status', 'migrate'])
  t.deepEqual(seen[1]?.arguments, { uri: 'exec:cat > /tmp/x' })
  t.not(seen[0]?.id, seen[1]?.id)
})

test('reassembles partial reads and delivers an event interleaved with a reply', async t => {
  const path = await tempSocket(t)
  const { server } = await fakeQmp(path, (cmd, sock) => {
    const event = JSON.stringify({ event: 'STOP', timestamp: { seconds: 1, microseconds: 2 } })
    const reply = JSON.stringify({ return: { answer: 42 }, id: cmd.id })
    const wire = `${event}\r\n${reply}\r\n{"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}\r\n`
    // Dribble it out in small pieces, splitting JSON objects and CRLFs.
    let i = 0
    const step = (): void => {
      if (i >= wire.length) return
      sock.write(wire.slice(i, i + 7))
      i += 7
      setImmediate(step)
    }
    step()
  })
  t.teardown(() => { server.close() })
  const qmp = await connectQmp({ socketPath: path }, { logger: silentLogger() })
  t.teardown(() => { qmp.close() })
  const events: QmpEvent[] = []
  qmp.onEvent(ev => events.push(ev))
  const ret = await qmp.execute<{ answer: number }>('query-answer')
  t.is(ret.answer, 42)
  await retry(() => events.length === 2, { timeoutMs: 2000, what: 'both events' })
  t.is(events[0]?.event, 'STOP')
  t.deepEqual(events[0]?.timestamp, { seconds: 1, microseconds: 2 })
  t.is(events[1]?.event, 'SHUTDOWN')
  t.deepEqual(events[1]?.data, { guest: true, reason: 'guest-shutdown' })
})

test('an error reply rejects with VmmError carrying QMP class and desc', async t => {
  const path = await tempSocket(t)
  const { server } = await fakeQmp(path, (cmd, sock) => {
    sock.write(JSON.stringify({ error: { class: 'CommandNotFound', desc: `The command ${cmd.execute} has not been found` }, id: cmd.id }) + '\r\n')
  })
  t.teardown(() => { server.close() })
  const qmp = await connectQmp({ socketPath: path }, { logger: silentLogger() })
  t.teardown(() => { qmp.close() })
  const err = await t.throwsAsync(qmp.execute('nope'), { instanceOf: VmmError })
  t.is(err?.code, 'ERR_VMM')
  t.is(err?.details?.qmpClass, 'CommandNotFound')
  t.regex(String(err?.details?.desc), /nope/)
})

test('a command without a reply times out; a late reply is ignored', async t => {
  const path = await tempSocket(t)
  const held: Array<() => void> = []
  const { server } = await fakeQmp(path, (cmd, sock) => {
    if (cmd.execute === 'slow') held.push(() => sock.write(JSON.stringify({ return: 'late', id: cmd.id }) + '\r\n'))
    else sock.write(JSON.stringify({ return: 'ok', id: cmd.id }) + '\r\n')
  })
  t.teardown(() => { server.close() })
  const qmp = await connectQmp({ socketPath: path }, { logger: silentLogger() })
  t.teardown(() => { qmp.close() })
  await t.throwsAsync(qmp.execute('slow', undefined, { timeoutMs: 100 }), { instanceOf: VmmError, message: /timed out/ })
  for (const h of held) h()
  t.is(await qmp.execute('fast'), 'ok')
})

test('closed resolves when the server goes away and pending commands reject', async t => {
  const path = await tempSocket(t)
  const { server, sockets } = await fakeQmp(path, () => {})
  t.teardown(() => { server.close() })
  const qmp = await connectQmp({ socketPath: path }, { logger: silentLogger() })
  const pending = qmp.execute('never')
  for (const s of sockets) s.destroy()
  await t.throwsAsync(pending, { instanceOf: VmmError, message: /closed/ })
  await qmp.closed
  t.true(qmp.isClosed)
  await t.throwsAsync(qmp.execute('after'), { instanceOf: VmmError })
})

test('gives up when the socket never appears', async t => {
  const path = await tempSocket(t)
  await t.throwsAsync(connectQmp({ socketPath: path, connectTimeoutMs: 200 }, { logger: silentLogger() }), { instanceOf: VmmError })
})

test('connect stops retrying when aborted', async t => {
  const path = await tempSocket(t)
  const ac = new AbortController()
  setTimeout(() => ac.abort(new Error('qemu exited')), 50)
  await t.throwsAsync(connectQmp({ socketPath: path, connectTimeoutMs: 10_000, signal: ac.signal }, { logger: silentLogger() }), { instanceOf: VmmError, message: /aborted/ })
})
