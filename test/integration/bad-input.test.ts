import test from 'ava'
import { createConnection } from 'node:net'
import { readFile } from 'node:fs/promises'
import { SYS_ERROR, SYS_REPLY } from '../../src/codec/envelope.js'
import { localCluster, roost } from '../helpers/cli.js'
import { startProbe } from '../helpers/probe.js'
import { retry } from '../helpers/retry.js'

const hostIdOf = async (dataDir: string): Promise<string> => (JSON.parse(await readFile(`${dataDir}/agent.json`, 'utf8')) as { hostId: string }).hostId

test('bad frames get typed errors back and a log line; the connection and the agent keep working', async t => {
  const cluster = await localCluster(t, 1)
  const h1 = cluster.hosts[0]!
  const target = await hostIdOf(h1.dataDir)
  const probe = await startProbe(t, cluster)

  let id = 1000
  const pings: number[] = []
  const ping = (): void => {
    const pid = id++
    pings.push(pid)
    probe.send(target, { type: 'agent.ping', id: pid, from: '', to: '/agent', replyTo: '/ask', body: { seq: pid } })
  }
  ping()
  await probe.answerTo(pings[0]!)

  const errorOf = (predicate: (code: string) => boolean): unknown => probe.received.find(e => e.type === SYS_ERROR && e.re === undefined && predicate((e.body as { code: string }).code))

  ping()
  probe.sendRaw(target, Buffer.from([0xc1, 0xc1, 0xc1]))
  ping()
  await retry(() => errorOf(c => c === 'ERR_MALFORMED_FRAME'), { what: 'malformed msgpack answered' })

  probe.sendRaw(target, probe.codec.encode({ not: 'an envelope' }))
  ping()
  await retry(() => probe.received.filter(e => e.type === SYS_ERROR && (e.body as { code: string }).code === 'ERR_MALFORMED_FRAME').length >= 2, { what: 'non-envelope answered' })

  probe.sendRaw(target, Buffer.alloc(2 * 1024 * 1024, 7))
  ping()
  await retry(() => errorOf(c => c === 'ERR_FRAME_TOO_LARGE'), { what: 'oversized frame answered' })

  // A frame outside the session layer is a direct frame (between hosts without WireGuard): these bytes are no envelope.
  probe.stream.send(target, Buffer.from([0x01, 0x02, 0x03]))
  ping()
  await retry(() => probe.received.filter(e => e.type === SYS_ERROR && (e.body as { code: string }).code === 'ERR_MALFORMED_FRAME').length >= 3, { what: 'a frame outside the session layer answered' })
  // A session frame cut short of its header.
  probe.stream.send(target, Buffer.from([0xd5, 0x00, 0x01]))
  ping()
  await retry(() => probe.received.filter(e => e.type === SYS_ERROR && (e.body as { code: string }).code === 'ERR_MALFORMED_FRAME').length >= 4, { what: 'a truncated session frame answered' })

  const cases: Array<{ env: { type: string, to: string, body: unknown, v?: number }, code: string }> = [
    { env: { type: 'agent.ping', to: '/agent', body: {}, v: 99 }, code: 'ERR_UNSUPPORTED_VERSION' },
    { env: { type: 'agent.explode', to: '/agent', body: {} }, code: 'ERR_UNKNOWN_MESSAGE_TYPE' },
    { env: { type: 'agent.ping', to: '/agent', body: { seq: 'x' } }, code: 'ERR_INVALID_MESSAGE' },
    { env: { type: 'agent.ping', to: '/agent', body: [1, 2] }, code: 'ERR_INVALID_MESSAGE' },
    { env: { type: 'agent.ping', to: '/agent/nobody', body: {} }, code: 'ERR_ACTOR_NOT_FOUND' },
    { env: { type: 'machines.status', to: '/agent', body: {} }, code: 'ERR_UNKNOWN_MESSAGE_TYPE' }
  ]
  for (const c of cases) {
    const cid = id++
    probe.send(target, { v: c.env.v, type: c.env.type, id: cid, from: '', to: c.env.to, replyTo: '/ask', body: c.env.body })
    ping()
    const answer = await probe.answerTo(cid)
    t.is(answer.type, SYS_ERROR, c.code)
    t.is((answer.body as { code: string }).code, c.code)
  }

  const dispatched = id++
  probe.send(target, { type: 'agent.ping', id: dispatched, from: '', to: '/agent/nobody', body: {} })
  const dispatchAnswer = await probe.answerTo(dispatched)
  t.is((dispatchAnswer.body as { code: string }).code, 'ERR_ACTOR_NOT_FOUND', 'a failed dispatch is reported to its sender too')

  for (let i = 0; i < 50; i++) ping()
  await retry(() => pings.every(p => probe.received.some(e => e.re === p && e.type === SYS_REPLY)), { what: 'every ping answered' })
  t.is(pings.length, 63)
  for (const p of pings) {
    const reply = probe.received.find(e => e.re === p)!
    t.is((reply.body as { seq: number }).seq, p)
  }

  const log = await readFile(h1.logFile, 'utf8')
  t.regex(log, /"code":"ERR_MALFORMED_FRAME".*"msg":"bad frame"/)
  t.regex(log, /"code":"ERR_FRAME_TOO_LARGE".*"msg":"bad frame"/)
  t.regex(log, /"code":"ERR_MALFORMED_FRAME".*2 bytes after the value.*"msg":"bad frame"/)
  t.regex(log, /"code":"ERR_MALFORMED_FRAME".*session frame of 3 bytes.*"msg":"bad session frame"/)
  t.regex(log, /"code":"ERR_UNSUPPORTED_VERSION".*"msg":"bad frame"/)
  t.regex(log, /"code":"ERR_UNKNOWN_MESSAGE_TYPE".*"msg":"rejected message"/)
  t.regex(log, /"code":"ERR_INVALID_MESSAGE".*"msg":"rejected message"/)

  const info = await roost(['agent', 'info', '--json', '--data-dir', h1.dataDir])
  t.is(info.code, 0)
  const stats = (JSON.parse(info.stdout) as { stats: { badFrames: number, rejected: number } }).stats
  t.true(stats.badFrames >= 4)
  t.true(stats.rejected >= 5)
})

test('a host with the wrong secret is refused and logged, and gets no actor delivery', async t => {
  const cluster = await localCluster(t, 1)
  const h1 = cluster.hosts[0]!
  const target = await hostIdOf(h1.dataDir)
  const intruder = await startProbe(t, cluster, { secret: 'not-the-secret', name: 'intruder' })
  const failure = await new Promise<Error>(resolve => {
    intruder.transport.send(target, Buffer.from('x'), resolve)
  })
  t.true(['ERR_ADMISSION', 'ERR_HOST_UNREACHABLE'].includes((failure as Error & { code: string }).code), failure.message)
  t.is(intruder.received.length, 0)
  const log = await retry(async () => {
    const text = await readFile(h1.logFile, 'utf8')
    return /"msg":"refused host"/.test(text) ? text : undefined
  }, { what: 'refusal logged' })
  t.regex(log, new RegExp(`"host":"${intruder.transport.hostId}".*"code":"ERR_ADMISSION".*wrong cluster secret`))
  const members = await roost(['members', '--json', '--data-dir', h1.dataDir])
  const list = JSON.parse(members.stdout) as Array<{ hostId: string }>
  t.false(list.some(m => m.hostId === intruder.transport.hostId), 'the intruder is not a member')
})

test('garbage on the control socket closes that connection only', async t => {
  const cluster = await localCluster(t, 1)
  const h1 = cluster.hosts[0]!
  await new Promise<void>((resolve) => {
    const s = createConnection(h1.socketPath, () => {
      s.write(Buffer.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]))
    })
    s.on('error', () => {})
    s.on('close', () => { resolve() })
  })
  await new Promise<void>((resolve) => {
    const s = createConnection(h1.socketPath, () => {
      s.write(Buffer.from([0xff, 0xff, 0xff, 0xff]))
    })
    s.on('error', () => {})
    s.on('close', () => { resolve() })
  })
  const info = await roost(['agent', 'info', '--json', '--data-dir', h1.dataDir])
  t.is(info.code, 0, info.stderr)
  const log = await readFile(h1.logFile, 'utf8')
  t.regex(log, /bad control frame; connection closed/)
})
