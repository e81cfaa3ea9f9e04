import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import test, { type ExecutionContext } from 'ava'
import { LabError, LabUnsupportedError } from '../../src/errors/errors.js'
import { memberViews, pidsInNetns } from '../../src/lab/lab-agents.js'
import { createLab, labAvailable, nftAvailable, sweepStaleLabs, type Lab } from '../../src/lab/lab.js'
import { run } from '../../src/lab/lab-exec.js'
import { ipTool, listNetns } from '../../src/lab/lab-network.js'
import { labNetnsPrefix } from '../../src/lab/lab-names.js'
import { silentLogger } from '../../src/log/logger.js'
import { tempDir } from '../helpers/cli.js'
import { startTestLab } from '../helpers/lab.js'
import { retry } from '../helpers/retry.js'

const CI = process.env.CI === 'true'
const available = labAvailable()
const DETECT_MS = 20_000

/** The state `viewer` holds for `target` ('missing' when it does not list it). */
async function stateOf (lab: Lab, viewer: string, target: string): Promise<string> {
  const views = await memberViews(lab.host(viewer).socketPath)
  return views.find(m => m.name === target)?.state ?? 'missing'
}

async function waitState (t: ExecutionContext, lab: Lab, viewer: string, target: string, want: (s: string) => boolean, what: string): Promise<void> {
  const s = await retry(async () => { const st = await stateOf(lab, viewer, target); return want(st) ? st : undefined }, { timeoutMs: DETECT_MS, intervalMs: 100, what: `${viewer} to see ${target} ${what}` })
  t.log(`${viewer} sees ${target} ${s}`)
}

const notAlive = (s: string): boolean => s === 'dead' || s === 'suspect'

function labNamespaces (lab: Lab): Promise<string[]> {
  const prefix = labNetnsPrefix(process.pid, lab.id)
  return listNetns().then(all => all.filter(n => n.startsWith(prefix)))
}

if (!available.ok) {
  if (CI) test('the lab needs root, ip and /var/run/netns', t => { t.fail(available.reason) })
  else test('lab tests (skipped)', t => { t.log(`skipped: ${available.reason}`); t.pass() })
} else {
  test.serial('three hosts in their own namespaces form a membership over the lab bridge', async t => {
    const lab = await startTestLab(t, { hosts: 3 })
    await lab.start()
    t.is(lab.hosts.length, 3)
    t.deepEqual(lab.hosts.map(h => h.address), ['10.77.0.11', '10.77.0.12', '10.77.0.13'])
    t.is(new Set(lab.hosts.map(h => h.netns)).size, 3)
    t.deepEqual((await labNamespaces(lab)).sort(), [...lab.hosts.map(h => h.netns), labNetnsPrefix(process.pid, lab.id) + 'br'].sort())
    for (const h of lab.hosts) {
      // `ip netns exec` execs: the pid we hold is node's own, inside the host's namespace.
      t.true((await pidsInNetns(h.netns)).includes(h.process?.pid ?? -1), `${h.name}'s agent runs in ${h.netns}`)
      t.regex(await lab.exec(h.name, 'ip', ['-4', '-o', 'addr', 'show', 'dev', h.ifname]), new RegExp(`inet ${h.address.replace(/\./g, '\\.')}/24`))
    }
    await lab.waitForMembership()
    const views = await memberViews(lab.host('h1').socketPath)
    t.deepEqual(views.filter(m => m.state === 'alive').map(m => m.name).sort(), ['h1', 'h2', 'h3'])
    t.true(views.find(m => m.name === 'h2')?.addresses.some(a => a.startsWith('10.77.0.12:')), JSON.stringify(views.find(m => m.name === 'h2')?.addresses))
    await t.throwsAsync(lab.exec('h1', 'false', []), { instanceOf: LabError })
    t.throws(() => lab.host('h9'), { instanceOf: LabError })

    // A host with another secret (a different cluster to the others): started with its own secret file, left out of waitForMembership.
    const foreign = await lab.addHost('foreign', { secret: 'not-the-lab-secret' })
    t.is(foreign.address, '10.77.0.14')
    const argv = (await readFile(`/proc/${foreign.process?.pid ?? -1}/cmdline`, 'utf8')).split('\0')
    const secretFile = argv[argv.indexOf('--secret-file') + 1] ?? ''
    t.not(secretFile, lab.secretFile)
    t.is((await readFile(secretFile, 'utf8')).trim(), 'not-the-lab-secret')
    await lab.waitForMembership()
    t.false((await memberViews(lab.host('h1').socketPath)).some(m => m.name === 'foreign' && m.state === 'alive'))
  })

  test.serial('a killed agent is seen dead by the others and alive again after startAgent; addHost joins a new host', async t => {
    const lab = await startTestLab(t, { hosts: 3 })
    await lab.waitForMembership()
    const pid = lab.host('h2').process?.pid ?? -1
    await lab.killAgent('h2')
    t.is(lab.host('h2').process, undefined)
    t.false(existsSync(`/proc/${pid}`))
    await waitState(t, lab, 'h1', 'h2', s => s === 'dead', 'dead')
    await waitState(t, lab, 'h3', 'h2', s => s === 'dead', 'dead')
    await lab.startAgent('h2')
    await lab.waitForMembership()
    t.is(await stateOf(lab, 'h1', 'h2'), 'alive')

    const h4 = await lab.addHost('h4', { start: false })
    t.is(h4.process, undefined)
    t.is(h4.address, '10.77.0.14')
    await lab.startAgent('h4')
    await lab.waitForMembership()
    t.is(await stateOf(lab, 'h3', 'h4'), 'alive')
  })

  test.serial('a cut link makes the host dead to the others, and them to it, until restored', async t => {
    const lab = await startTestLab(t, { hosts: 3 })
    await lab.waitForMembership()
    await lab.cutLink('h3')
    await waitState(t, lab, 'h1', 'h3', s => s === 'dead', 'dead')
    await waitState(t, lab, 'h2', 'h3', s => s === 'dead', 'dead')
    await waitState(t, lab, 'h3', 'h1', notAlive, 'not alive')
    t.true(lab.host('h3').process !== undefined, 'the agent itself keeps running')
    await lab.restoreLink('h3')
    await lab.waitForMembership()
    t.is(await stateOf(lab, 'h1', 'h3'), 'alive')
    t.is(await stateOf(lab, 'h3', 'h2'), 'alive')
  })

  test.serial('impair: 100 % loss acts like a cut until cleared; delay needs netem', async t => {
    if (!nftAvailable()) {
      if (CI) t.fail('nft is required in CI (apt-get install nftables)')
      else t.log('skipped: nft not found (apt-get install nftables)')
      if (!CI) t.pass()
      return
    }
    const lab = await startTestLab(t, { hosts: 3 })
    await lab.waitForMembership()
    await lab.impair('h3', { lossPct: 100 })
    const ruleset = await lab.exec('h3', 'nft', ['list', 'ruleset'])
    t.regex(ruleset, new RegExp(`iifname "${lab.host('h3').ifname}" drop`))
    t.regex(ruleset, new RegExp(`oifname "${lab.host('h3').ifname}" drop`))
    await waitState(t, lab, 'h1', 'h3', s => s === 'dead', 'dead')
    await waitState(t, lab, 'h2', 'h3', s => s === 'dead', 'dead')
    await lab.clearImpair('h3')
    t.notRegex(await lab.exec('h3', 'nft', ['list', 'ruleset']), /drop/)
    await lab.waitForMembership()
    t.is(await stateOf(lab, 'h1', 'h3'), 'alive')

    try {
      await lab.impair('h2', { delayMs: 20 })
      t.regex(await lab.exec('h2', 'tc', ['qdisc', 'show', 'dev', lab.host('h2').ifname]), /netem/)
      await lab.clearImpair('h2')
      t.notRegex(await lab.exec('h2', 'tc', ['qdisc', 'show', 'dev', lab.host('h2').ifname]), /netem/)
    } catch (err) {
      t.true(err instanceof LabUnsupportedError, String(err))
      t.is((err as LabUnsupportedError).code, 'ERR_LAB_UNSUPPORTED')
      t.regex((err as Error).message, /netem/)
      t.log(`delay assertion skipped: ${(err as Error).message}`)
      t.notRegex(await lab.exec('h2', 'nft', ['list', 'ruleset']), /drop/, 'nothing was applied')
    }
    await lab.impair('h1', { lossPct: 30 })
    t.regex(await lab.exec('h1', 'nft', ['list', 'ruleset']), /numgen random mod 100 < 30 drop/)
    await lab.clearImpair('h1')
    await t.throwsAsync(lab.impair('h1', { lossPct: 101 }), { instanceOf: LabError })
  })

  test.serial('stop() removes every namespace and process; it is idempotent and safe before and after a failed start', async t => {
    const dir = await tempDir(t, 'roost-lab-')
    const never = createLab({ hosts: 1, binPath: '/nonexistent/roost.js', dir, readyTimeoutMs: 10_000 }, { logger: silentLogger() })
    await never.stop()
    const broken = createLab({ hosts: 2, binPath: '/nonexistent/roost.js', dir, readyTimeoutMs: 10_000 }, { logger: silentLogger() })
    t.teardown(async () => { await broken.stop() })
    await t.throwsAsync(broken.start(), { instanceOf: LabError })
    t.deepEqual(await labNamespaces(broken), [], 'a failed start leaves no namespace')

    const lab = await startTestLab(t, { hosts: 2 })
    await lab.start()
    const namespaces = await labNamespaces(lab)
    t.is(namespaces.length, 3)
    const pids = (await Promise.all(namespaces.map(pidsInNetns))).flat()
    t.true(pids.length >= 3, `agents and dht: ${pids.join(',')}`)
    await lab.stop()
    await lab.stop()
    t.deepEqual(await labNamespaces(lab), [])
    t.deepEqual(pids.filter(p => existsSync(`/proc/${p}`)), [])
    t.true(lab.hosts.every(h => h.process === undefined))
    await t.throwsAsync(lab.cutLink('h1'), { instanceOf: LabError })
  })

  test.serial('sweepStaleLabs removes namespaces of dead owners only', async t => {
    const ip = ipTool()
    const dead = await new Promise<number>((resolve) => {
      void import('node:child_process').then(({ spawn }) => {
        const c = spawn(process.execPath, ['-e', ''])
        c.once('exit', () => { resolve(c.pid ?? 0) })
      })
    })
    const stale = `roostlab-${dead}-abcd-h1`
    const mine = `roostlab-${process.pid}-abcd-h1`
    t.teardown(async () => {
      for (const n of [stale, mine]) await run(ip, ['netns', 'del', n]).catch(() => {})
    })
    await run(ip, ['netns', 'add', stale])
    await run(ip, ['netns', 'add', mine])
    const removed = await sweepStaleLabs()
    t.true(removed.includes(stale))
    t.false(removed.includes(mine))
    const left = await listNetns()
    t.false(left.includes(stale))
    t.true(left.includes(mine))
  })
}
