import test from 'ava'
import { currentMachineRows, generationOf, machineIdOf, machineRowKey, servingMachineRows, type MachineRowLike } from '../../src/placement/machine-rows.js'

const row = (id: string, gen: number, owner: string, over: Partial<MachineRowLike> = {}): MachineRowLike =>
  ({ key: machineRowKey(id, gen), owner, deleted: false, ownerDead: false, data: { id, generation: gen, host: owner }, ...over })

test('keys: the id for generation 1 (rows from before generations), a suffix after', t => {
  t.is(machineRowKey('abc', 1), 'abc')
  t.is(machineRowKey('abc', 3), 'abc.g3')
  t.is(machineIdOf({ key: 'abc.g3', data: null }), 'abc')
  t.is(machineIdOf({ key: 'x', data: { id: 'abc' } }), 'abc')
  t.is(generationOf({}), 1)
  t.is(generationOf({ generation: 0 }), 1)
  t.is(generationOf({ generation: 4 }), 4)
})

test('the highest generation of each machine is current; older ones are stale', t => {
  const rows = [row('m1', 1, 'a'), row('m1', 2, 'b'), row('m2', 1, 'c')]
  t.deepEqual(currentMachineRows(rows).map(r => r.key).sort(), ['m1.g2', 'm2'])
})

test('two copies of one generation (a race): every reader picks the lower owner', t => {
  const rows = [row('m1', 2, 'zz'), row('m1', 2, 'aa')]
  t.deepEqual(currentMachineRows(rows).map(r => r.owner), ['aa'])
  t.deepEqual(currentMachineRows([...rows].reverse()).map(r => r.owner), ['aa'])
})

test('a tombstone of a newer generation makes the older live rows stale; an older tombstone does not', t => {
  const gone = [row('m1', 1, 'a'), { ...row('m1', 2, 'b'), deleted: true, data: null }]
  t.deepEqual(currentMachineRows(gone), [])
  const replaced = [{ ...row('m1', 1, 'a'), deleted: true, data: null }, row('m1', 2, 'b')]
  t.deepEqual(currentMachineRows(replaced).map(r => r.key), ['m1.g2'])
})

test('routers keep serving the older copy while the newer one is not started yet (evacuation)', t => {
  const old = row('m1', 1, 'a', { data: { id: 'm1', generation: 1, state: 'started' } })
  const starting = row('m1', 2, 'b', { data: { id: 'm1', generation: 2, state: 'starting' } })
  t.deepEqual(servingMachineRows([old, starting]).map(r => r.owner), ['a'])
  const started = row('m1', 2, 'b', { data: { id: 'm1', generation: 2, state: 'started' } })
  t.deepEqual(servingMachineRows([old, started]).map(r => r.owner), ['b'])
  const stopped = row('m1', 1, 'a', { data: { id: 'm1', generation: 1, state: 'stopped' } })
  t.deepEqual(servingMachineRows([stopped, starting]).map(r => r.owner), ['b'])
})
