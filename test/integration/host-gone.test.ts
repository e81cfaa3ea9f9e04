import test from 'ava'
import { localCluster, roost } from '../helpers/cli.js'
import { connectControl } from '../../src/api/control-client.js'
import { exited } from '../../src/cli/local-cluster.js'

const ASK_TIMEOUT_MS = 4_000

test('a host killed with -9 yields ERR_HOST_UNREACHABLE to senders before the ask timeout, not a hang; a restarted host is reachable again', async t => {
  const cluster = await localCluster(t, 3)
  await cluster.waitForMembership()
  const [h1, h2] = cluster.hosts as [typeof cluster.hosts[0] & object, typeof cluster.hosts[0] & object]
  const warm = await roost(['send', 'h2/agent', '{"type":"agent.ping","seq":1}', '--data-dir', h1.dataDir])
  t.is(warm.code, 0, warm.stderr)

  // An ask in flight when its target dies: h2 is frozen (the connection stays open, nothing
  // answers), the ask goes out on that connection, then h2 is killed. Gossip declares h2 dead and
  // the ask fails with the host-gone error, long before its timeout.
  const control = await connectControl(h1.socketPath)
  t.teardown(() => { control.close() })
  h2.process.kill('SIGSTOP')
  const started = Date.now()
  const inFlight = control.call(async api => await api.send('h2/agent', { type: 'agent.ping', seq: 2 }, { timeoutMs: ASK_TIMEOUT_MS }))
  h2.process.kill('SIGKILL')
  await exited(h2.process)
  const err = await t.throwsAsync(inFlight)
  const elapsed = Date.now() - started
  t.is((err as Error & { code?: string }).code, 'ERR_HOST_UNREACHABLE', err?.message)
  // "Not a hang": a generous bound, well under the ask timeout (gossip takes ~1 s here).
  t.true(elapsed < ASK_TIMEOUT_MS - 1_000, `the in-flight ask failed after ${elapsed} ms`)
  t.log(`in-flight ask to the killed host: ${(err as Error & { code?: string }).code} after ${elapsed} ms`)

  // A message sent later, to the host gossip now says is dead, fails by the dial's timeout (5 s), not the ask's.
  const laterStarted = Date.now()
  const r = await roost(['send', 'h2/agent', '{"type":"agent.ping","seq":3}', '--json', '--timeout', '15000', '--data-dir', h1.dataDir])
  const laterElapsed = Date.now() - laterStarted
  t.is(r.code, 1)
  t.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'ERR_HOST_UNREACHABLE', r.stdout)
  t.true(laterElapsed < 12_000, `the later send failed after ${laterElapsed} ms`)

  const again = await roost(['send', 'h3/agent', '{"type":"agent.ping","seq":4}', '--data-dir', h1.dataDir])
  t.is(again.code, 0, 'other hosts are unaffected')

  await cluster.startHost('h2')
  const back = await roost(['send', 'h2/agent', '{"type":"agent.ping","seq":5}', '--json', '--data-dir', h1.dataDir])
  t.is(back.code, 0, back.stderr)
  t.is((JSON.parse(back.stdout) as { reply: { seq: number } }).reply.seq, 5)
})

test('a host stopped gracefully fails in-flight and later messages with ERR_HOST_UNREACHABLE', async t => {
  const cluster = await localCluster(t, 2)
  await cluster.waitForMembership()
  const [h1, h2] = cluster.hosts as [typeof cluster.hosts[0] & object, typeof cluster.hosts[0] & object]
  h2.process.kill('SIGTERM')
  await exited(h2.process)
  t.is(h2.process.exitCode, 0, 'a graceful stop exits 0')
  const started = Date.now()
  const r = await roost(['send', 'h2/agent', '{"type":"agent.ping"}', '--json', '--timeout', '15000', '--data-dir', h1.dataDir])
  const elapsed = Date.now() - started
  t.is(r.code, 1)
  t.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'ERR_HOST_UNREACHABLE', r.stdout)
  t.true(elapsed < 12_000, `failed after ${elapsed} ms, before the 15 s ask timeout`)
})
