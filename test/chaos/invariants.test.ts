import test from 'ava'
import { violations, type Census, type CurrentMachine } from './harness/invariants.js'

// The chaos suite's invariant check, on censuses made up here: it must catch every way a run can
// go wrong, or the scenarios prove nothing.

const m = (id: string, owner: string, generation = 1, state = 'started', app = 'chaos'): CurrentMachine => ({ id, app, owner, generation, state })
const view = [m('a', 'h2'), m('b', 'h3', 2), m('c', 'h4', 1, 'suspended', 'vm')]
const good = (): Census => ({
  views: { h1: view, h2: view },
  silent: [],
  forked: { h1: [], h2: [] },
  live: [{ host: 'h2', id: 'a', pid: 10, recorded: true }, { host: 'h3', id: 'b', pid: 11, recorded: true }]
})
const desired = [{ app: 'chaos', count: 2 }, { app: 'vm', count: 1, state: 'suspended' }]

test('a healthy census has no violation', t => {
  t.deepEqual(violations(good(), desired), [])
})

test('each way of going wrong is named', t => {
  const cases: Array<[string, (c: Census) => void, RegExp]> = [
    ['a second live copy', c => { c.live.push({ host: 'h5', id: 'a', pid: 12, recorded: true }) }, /a@h2\.g1:started runs 2 times.*has a process on h5/s],
    ['no copy', c => { c.live.shift() }, /a@h2\.g1:started runs 0 times/],
    ['an orphan of a destroyed machine', c => { c.live.push({ host: 'h4', id: 'zz', pid: 13, recorded: true }) }, /orphan: pid 13 on h4 runs machine zz/],
    ['a suspended machine still running', c => { c.live.push({ host: 'h4', id: 'c', pid: 14, recorded: true }) }, /c@h4\.g1:suspended runs 1 times \(want 0\)/],
    ['an unrecorded process', c => { (c.live[0] as { recorded: boolean }).recorded = false }, /does not record it/],
    ['replicas that disagree', c => { c.views.h2 = [m('a', 'h2'), m('b', 'h3', 1), view[2] as CurrentMachine] }, /replicas disagree/],
    ['a missing machine', c => { c.views = { h1: view.slice(1), h2: view.slice(1) }; c.live.shift() }, /chaos: 1 machines in h1's replica, want 2/],
    ['a machine in the wrong state', c => { c.views = { h1: [m('a', 'h2', 1, 'stopped'), ...view.slice(1)] }; c.live.shift() }, /a@h2\.g1:stopped is not started/],
    ['a silent agent', c => { c.silent = ['h5'] }, /h5: the agent does not answer/],
    ['two copies of one generation', c => { c.forked.h1 = ['b'] }, /h1: two copies of one generation of b/]
  ]
  for (const [what, spoil, want] of cases) {
    const c = good()
    spoil(c)
    const found = violations(c, desired)
    t.true(found.some(v => want.test(v)) || want.test(found.join('\n')), `${what}: ${JSON.stringify(found)}`)
  }
})
