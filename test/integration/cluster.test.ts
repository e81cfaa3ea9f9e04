import test from 'ava'
import { readFile } from 'node:fs/promises'
import type { LocalHost } from '../../src/cli/local-cluster.js'
import { localCluster, roost } from '../helpers/cli.js'
import { retry } from '../helpers/retry.js'

test('three agent processes find each other and answer actor messages across hosts through the CLI', async t => {
  const cluster = await localCluster(t, 3)
  const views = await cluster.waitForMembership()
  t.is(views.size, 3)
  for (const [name, members] of views) {
    t.is(members.length, 3, `${name} sees 3 hosts`)
    t.is(members.filter(m => m.self).length, 1)
    t.true(members.every(m => m.state === 'alive'))
    t.true(members.every(m => /^[0-9a-f]{64}$/.test(m.hostId)))
  }
  const h1 = cluster.hosts[0]!
  const h3 = cluster.hosts[2]!
  const environ = (await readFile(`/proc/${String(h1.process.pid)}/environ`, 'utf8')).split('\0')
  t.true(environ.includes('MALLOC_MMAP_THRESHOLD_=131072'), 'agents start with a fixed malloc mmap threshold')

  const members = await roost(['members', '--json', '--data-dir', h1.dataDir])
  t.is(members.code, 0, members.stderr)
  const parsed = JSON.parse(members.stdout) as Array<{ name: string, state: string, version: string }>
  t.deepEqual(parsed.map(m => m.name).sort(), ['h1', 'h2', 'h3'])
  t.true(parsed.every(m => m.version === '0.1.0'))

  const table = await roost(['members', '--data-dir', h1.dataDir])
  t.is(table.code, 0)
  t.regex(table.stdout, /^NAME\s+HOST ID\s+STATE/m)
  t.regex(table.stdout, /^h3\s+[0-9a-f]{12}\s+alive\s+\d+\s+local/m)

  const sent = await roost(['send', 'h3/agent', '{"type":"agent.ping","seq":42,"payload":"hi"}', '--json', '--data-dir', h1.dataDir])
  t.is(sent.code, 0, sent.stderr)
  const result = JSON.parse(sent.stdout) as { host: string, path: string, reply: { host: string, seq: number, payload: string } }
  const h3Info = JSON.parse(await readFile(`${h3.dataDir}/agent.json`, 'utf8')) as { hostId: string }
  t.is(result.host, h3Info.hostId)
  t.is(result.path, '/agent')
  t.deepEqual(result.reply, { host: h3Info.hostId, seq: 42, payload: 'hi' })

  const byPrefix = await roost(['send', `${h3Info.hostId.slice(0, 10)}/agent/wireguard`, '{"type":"wireguard.status"}', '--data-dir', h1.dataDir])
  t.is(byPrefix.code, 0, byPrefix.stderr)
  const wgStatus = JSON.parse(byPrefix.stdout) as { mode: string, reason: string, peers: unknown[] }
  t.is(wgStatus.mode, 'stream', 'agents of a local cluster share a namespace: no tunnels between them')
  t.regex(wgStatus.reason, /disabled/)

  const info = await roost(['send', 'h2/agent', '{"type":"agent.info"}', '--data-dir', h3.dataDir])
  t.is(info.code, 0, info.stderr)
  const i = JSON.parse(info.stdout) as { name: string, actors: string[], transport: string }
  t.is(i.name, 'h2')
  t.is(i.transport, 'mesh')
  t.deepEqual(i.actors, ['/agent', '/agent/acme', '/agent/failover', '/agent/machines', '/agent/membership', '/agent/placement', '/agent/router', '/agent/wireguard'])

  const local = await roost(['agent', 'info', '--json', '--data-dir', h1.dataDir])
  t.is(local.code, 0, local.stderr)
  t.is((JSON.parse(local.stdout) as { name: string }).name, 'h1')
})

test('CLI errors are typed: unknown host, unknown type, invalid body, missing actor, bad JSON, no agent', async t => {
  const cluster = await localCluster(t, 2)
  await cluster.waitForMembership()
  const dir = cluster.hosts[0]!.dataDir
  const cases: Array<[string[], string]> = [
    [['send', 'nosuchhost/agent', '{"type":"agent.ping"}'], 'ERR_UNKNOWN_HOST'],
    [['send', 'h2/agent', '{"type":"agent.nope"}'], 'ERR_UNKNOWN_MESSAGE_TYPE'],
    [['send', 'h2/agent', '{"type":"agent.ping","seq":"not-a-number"}'], 'ERR_INVALID_MESSAGE'],
    [['send', 'h2/agent/nobody', '{"type":"agent.ping"}'], 'ERR_ACTOR_NOT_FOUND'],
    [['send', 'local/agent', '{"type":"agent.ping","seq":1.5}'], 'ERR_INVALID_MESSAGE'],
    [['send', 'h2/agent', 'not json'], 'ERR_INVALID_ARGUMENT'],
    [['send', 'h2', '{"type":"agent.ping"}'], 'ERR_INVALID_ARGUMENT']
  ]
  for (const [args, code] of cases) {
    const r = await roost([...args, '--json', '--data-dir', dir])
    t.is(r.code, 1, `${args.join(' ')} exits 1`)
    t.is((JSON.parse(r.stdout) as { error: { code: string } }).error.code, code, args.join(' '))
    t.regex(r.stderr, new RegExp(`error ${code}: `))
  }
  const none = await roost(['members', '--data-dir', `${dir}/does-not-exist`])
  t.is(none.code, 1)
  t.regex(none.stderr, /ERR_AGENT_UNAVAILABLE/)
  const ping = await roost(['send', 'h2/agent', '{"type":"agent.ping","seq":1}', '--data-dir', dir])
  t.is(ping.code, 0, 'the agents keep working after bad requests')
})

test('membership.leave forwarded to another host is refused there (ERR_SENDER_NOT_ALLOWED) and that host stays alive on every peer', async t => {
  const cluster = await localCluster(t, 3)
  await cluster.waitForMembership()
  const [h1, h2, h3] = cluster.hosts as [LocalHost, LocalHost, LocalHost]
  const forged = await roost(['send', 'h2/agent/membership', '{"type":"membership.leave"}', '--json', '--data-dir', h1.dataDir])
  t.is(forged.code, 1, forged.stdout)
  t.is((JSON.parse(forged.stdout) as { error: { code: string } }).error.code, 'ERR_SENDER_NOT_ALLOWED')
  const write = await roost(['send', 'h2/agent/membership', '{"type":"membership.write","table":"services","key":"x","data":{}}', '--json', '--data-dir', h1.dataDir])
  t.is((JSON.parse(write.stdout) as { error: { code: string } }).error.code, 'ERR_SENDER_NOT_ALLOWED')
  // A leave from the host itself goes through: once the peers saw it, they would have seen the forged one sent before it.
  const own = await roost(['send', 'local/agent/membership', '{"type":"membership.leave"}', '--data-dir', h3.dataDir])
  t.is(own.code, 0, own.stderr)
  const stateOf = async (at: string, name: string): Promise<string | undefined> => {
    const r = await roost(['members', '--json', '--data-dir', at])
    return (JSON.parse(r.stdout) as Array<{ name: string, state: string }>).find(m => m.name === name)?.state
  }
  await retry(async () => (await stateOf(h1.dataDir, 'h3')) === 'left' && (await stateOf(h2.dataDir, 'h3')) === 'left', { timeoutMs: 20_000, what: 'h3 left on h1 and h2' })
  t.is(await stateOf(h1.dataDir, 'h2'), 'alive')
  t.is(await stateOf(h2.dataDir, 'h2'), 'alive')
})
