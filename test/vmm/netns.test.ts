import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import test from 'ava'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import { silentLogger } from '../../src/log/logger.js'
import { ip } from '../../src/vmm/ip-command.js'
import { addressesFor, createNetnsAllocator, createTap, listNamespaces } from '../../src/vmm/netns.js'
import { requireParts } from '../helpers/requirements.js'
import { retry } from '../helpers/retry.js'

const rootTest = await requireParts(test, ['root'])

test('addressesFor gives disjoint /30s in 10.210/16 and 10.211/16', t => {
  t.like(addressesFor(0), { hostAddress: '10.210.0.1', nsAddress: '10.210.0.2', vethNetwork: '10.210.0.0/30', tapAddress: '10.211.0.1', guestAddress: '10.211.0.2', guestNetwork: '10.211.0.0/30', guestMac: '52:54:00:d2:00:00' })
  t.like(addressesFor(65), { hostAddress: '10.210.1.5', nsAddress: '10.210.1.6', guestAddress: '10.211.1.6', guestMac: '52:54:00:d2:00:41' })
  t.like(addressesFor(16383), { hostAddress: '10.210.255.253', nsAddress: '10.210.255.254', guestAddress: '10.211.255.254', guestMac: '52:54:00:d2:3f:ff' })
  const seen = new Set<string>()
  for (let i = 0; i < 16384; i++) {
    const a = addressesFor(i)
    for (const x of [a.hostAddress, a.nsAddress, a.tapAddress, a.guestAddress, a.guestMac]) seen.add(x)
  }
  t.is(seen.size, 16384 * 5)
  t.throws(() => addressesFor(16384), { instanceOf: InvalidArgumentError })
  t.throws(() => addressesFor(-1), { instanceOf: InvalidArgumentError })
})

test('a bad prefix is rejected', t => {
  t.throws(() => createNetnsAllocator({ prefix: 'Bad-Prefix' }, { logger: silentLogger() }), { instanceOf: InvalidArgumentError })
})

async function readFrom (host: string, port: number): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect({ host, port })
    socket.setTimeout(2000, () => { socket.destroy(new Error('read timed out')) })
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('end', () => { resolve(Buffer.concat(chunks).toString()) })
  })
}

function uniquePrefix (): string {
  return 't' + randomBytes(3).toString('hex')
}

rootTest('create two, disjoint, reachable; remove is idempotent and leaves nothing', async t => {
  const alloc = createNetnsAllocator({ prefix: uniquePrefix() }, { logger: silentLogger() })
  t.teardown(async () => { await alloc.cleanupStale([]) })
  const [a, b] = await Promise.all([alloc.create('machine-aaaa-1111'), alloc.create('machine-aaaa-2222')])
  if (a === undefined || b === undefined) throw new Error('unreachable')
  t.not(a.name, b.name)
  t.not(a.index, b.index)
  t.not(a.hostIf, b.hostIf)
  for (const ns of [a, b]) {
    t.true(ns.name.startsWith(`roost-${alloc.prefix}-`))
    t.true(ns.hostIf.length <= 15)
    t.is(ns.nsIf, 'eth0')
    t.deepEqual(await alloc.lookup(ns.name), ns)
    const routes = await ip(['-n', ns.name, 'route', 'show', 'default'])
    t.regex(routes, new RegExp(`default via ${ns.hostAddress.replace(/\./g, '\\.')} dev eth0`))
    const lo = JSON.parse(await ip(['-n', ns.name, '-j', 'link', 'show', 'lo'])) as Array<{ flags: string[] }>
    t.true(lo[0]?.flags.includes('UP'))
  }
  t.deepEqual((await alloc.list()).sort(), [a.name, b.name].sort())

  // The host reaches a listener inside namespace a through its veth address.
  const server = spawn('ip', ['netns', 'exec', a.name, process.execPath, '-e',
    "require('net').createServer(s => s.end('hello from ns')).listen(4000, '0.0.0.0')"], { stdio: 'ignore' })
  t.teardown(() => { server.kill('SIGKILL') })
  const reply = await retry(async () => await readFrom(a.nsAddress, 4000), { timeoutMs: 10_000, what: 'listener in the namespace' })
  t.is(reply, 'hello from ns')
  server.kill('SIGKILL')

  await alloc.remove(a.name)
  await alloc.remove(a.name)
  t.is(await alloc.lookup(a.name), null)
  t.deepEqual(await alloc.list(), [b.name])
  await alloc.remove(b.name)
  t.deepEqual(await alloc.list(), [])
  const links = await ip(['-o', 'link', 'show'])
  t.false(links.includes(a.hostIf))
  t.false(links.includes(b.hostIf))
})

rootTest('allocators with different prefixes share the machine; cleanupStale removes only its own unknown ones', async t => {
  const one = createNetnsAllocator({ prefix: uniquePrefix() }, { logger: silentLogger() })
  const two = createNetnsAllocator({ prefix: uniquePrefix() }, { logger: silentLogger() })
  t.teardown(async () => { await one.cleanupStale([]); await two.cleanupStale([]) })
  const a = await one.create('same-id')
  const b = await two.create('same-id')
  const c = await one.create('same-id')
  t.not(a.name, b.name)
  t.not(a.name, c.name)
  t.is(new Set([a.index, b.index, c.index]).size, 3)
  t.deepEqual(await one.cleanupStale([a.name]), [c.name])
  t.deepEqual(await one.list(), [a.name])
  t.deepEqual(await two.list(), [b.name])
  await one.remove(a.name)
  await two.remove(b.name)
  const left = (await listNamespaces()).filter(n => n.startsWith(`roost-${one.prefix}-`) || n.startsWith(`roost-${two.prefix}-`))
  t.deepEqual(left, [])
})

rootTest('createTap: tap with its /30, neighbour entry, forwarding, host route; all gone on remove', async t => {
  const alloc = createNetnsAllocator({ prefix: uniquePrefix() }, { logger: silentLogger() })
  t.teardown(async () => { await alloc.cleanupStale([]) })
  const ns = await alloc.create('tapped')
  const tap = await createTap(ns, 'tap0')
  const a = addressesFor(ns.index)
  t.like(tap, { name: 'tap0', netns: ns.name, tapAddress: a.tapAddress, guestAddress: a.guestAddress, guestMac: a.guestMac })
  const addrs = await ip(['-n', ns.name, '-4', '-o', 'addr', 'show', 'dev', 'tap0'])
  t.true(addrs.includes(`${a.tapAddress}/30`))
  const neigh = await ip(['-n', ns.name, 'neigh', 'show', 'dev', 'tap0'])
  t.true(neigh.includes(`${a.guestAddress} lladdr ${a.guestMac} PERMANENT`))
  const fwd = await ip(['netns', 'exec', ns.name, 'cat', '/proc/sys/net/ipv4/ip_forward'])
  t.is(fwd.trim(), '1')
  const route = await ip(['route', 'show', a.guestNetwork])
  t.true(route.includes(`via ${ns.nsAddress} dev ${ns.hostIf}`))
  await alloc.remove(ns.name)
  t.is((await ip(['route', 'show', a.guestNetwork])).trim(), '')
  t.deepEqual(await alloc.list(), [])
})
