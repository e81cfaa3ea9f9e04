import test from 'ava'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import {
  bridgeIfname, bridgeNetnsName, bridgePortIfname, checkHostName, hostAddress, hostIfname, hostNetnsName,
  IFNAME_MAX, MAX_HOST_INDEX, newLabId, parseLabNetns
} from '../../src/lab/lab-names.js'

test('interface names fit IFNAMSIZ and are unique across hosts and labs', t => {
  const labs = ['0000', 'beef', 'ffff', newLabId()]
  const seen = new Set<string>()
  let count = 0
  for (const id of labs) {
    for (const name of [bridgeIfname(id), ...Array.from({ length: MAX_HOST_INDEX }, (_, k) => [hostIfname(id, k + 1), bridgePortIfname(id, k + 1)]).flat()]) {
      t.true(name.length <= IFNAME_MAX, name)
      t.regex(name, /^[a-z0-9]+$/)
      seen.add(name)
      count++
    }
  }
  t.is(seen.size, count)
  t.is(count, labs.length * (1 + 2 * MAX_HOST_INDEX))
})

test('namespace names carry the owner pid and lab id, and parse back', t => {
  t.is(hostNetnsName(4242, 'a1b2', 'h3'), 'roostlab-4242-a1b2-h3')
  t.is(bridgeNetnsName(4242, 'a1b2'), 'roostlab-4242-a1b2-br')
  t.deepEqual(parseLabNetns('roostlab-4242-a1b2-h3'), { ownerPid: 4242, labId: 'a1b2', host: 'h3' })
  t.deepEqual(parseLabNetns(bridgeNetnsName(7, 'ffff')), { ownerPid: 7, labId: 'ffff', host: 'br' })
  t.is(parseLabNetns('roost-abc-m1'), null)
  t.is(parseLabNetns('roostlab-x-a1b2-h1'), null)
})

test('host addresses are distinct, in 10.77.0.0/24, and never the bridge address', t => {
  const all = Array.from({ length: MAX_HOST_INDEX }, (_, k) => hostAddress(k + 1))
  t.is(new Set(all).size, MAX_HOST_INDEX)
  t.is(hostAddress(1), '10.77.0.11')
  t.is(hostAddress(MAX_HOST_INDEX), '10.77.0.255')
  t.false(all.includes('10.77.0.1'))
  t.throws(() => hostAddress(0), { instanceOf: InvalidArgumentError })
  t.throws(() => hostIfname('beef', MAX_HOST_INDEX + 1), { instanceOf: InvalidArgumentError })
})

test('bad lab ids and host names are rejected', t => {
  t.throws(() => hostIfname('BEEF', 1), { instanceOf: InvalidArgumentError })
  t.throws(() => hostIfname('beefy', 1), { instanceOf: InvalidArgumentError })
  t.throws(() => { checkHostName('br') }, { instanceOf: InvalidArgumentError })
  t.throws(() => { checkHostName('H1') }, { instanceOf: InvalidArgumentError })
  t.throws(() => { checkHostName('a/b') }, { instanceOf: InvalidArgumentError })
  t.notThrows(() => { checkHostName('foreign_1') })
  const taken = new Set(Array.from({ length: 65535 }, (_, i) => i.toString(16).padStart(4, '0')))
  t.is(newLabId(taken), 'ffff')
})
