import test from 'ava'
import { localCluster, roost } from '../helpers/cli.js'
import { exited } from '../../src/cli/local-cluster.js'

test('a host killed with -9 yields a typed error to senders, not a hang; a restarted host is reachable again', async t => {
  const cluster = await localCluster(t, 3)
  await cluster.waitForMembership()
  const [h1, h2] = cluster.hosts as [typeof cluster.hosts[0] & object, typeof cluster.hosts[0] & object]
  const warm = await roost(['send', 'h2/agent', '{"type":"agent.ping","seq":1}', '--data-dir', h1.dataDir])
  t.is(warm.code, 0, warm.stderr)

  h2.process.kill('SIGKILL')
  await exited(h2.process)
  const started = Date.now()
  const r = await roost(['send', 'h2/agent', '{"type":"agent.ping","seq":2}', '--json', '--timeout', '4000', '--data-dir', h1.dataDir])
  const elapsed = Date.now() - started
  t.is(r.code, 1)
  const code = (JSON.parse(r.stdout) as { error: { code: string } }).error.code
  t.true(['ERR_HOST_UNREACHABLE', 'ERR_ASK_TIMEOUT'].includes(code), code)
  t.log(`killed host answered with ${code} after ${elapsed} ms`)

  const again = await roost(['send', 'h3/agent', '{"type":"agent.ping","seq":3}', '--data-dir', h1.dataDir])
  t.is(again.code, 0, 'other hosts are unaffected')

  await cluster.startHost('h2')
  const back = await roost(['send', 'h2/agent', '{"type":"agent.ping","seq":4}', '--json', '--data-dir', h1.dataDir])
  t.is(back.code, 0, back.stderr)
  t.is((JSON.parse(back.stdout) as { reply: { seq: number } }).reply.seq, 4)
})

test('a host stopped gracefully fails in-flight and later messages with ERR_HOST_UNREACHABLE', async t => {
  const cluster = await localCluster(t, 2)
  await cluster.waitForMembership()
  const [h1, h2] = cluster.hosts as [typeof cluster.hosts[0] & object, typeof cluster.hosts[0] & object]
  h2.process.kill('SIGTERM')
  await exited(h2.process)
  t.is(h2.process.exitCode, 0, 'a graceful stop exits 0')
  const r = await roost(['send', 'h2/agent', '{"type":"agent.ping"}', '--json', '--timeout', '10000', '--data-dir', h1.dataDir])
  t.is(r.code, 1)
  t.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'ERR_HOST_UNREACHABLE')
})
