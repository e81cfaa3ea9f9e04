import test from 'ava'
import { reconcile, type ReconcileInput, type VmFound } from '../../actors/machines/reconcile.js'
import { MACHINE_STATES } from '../../src/api/machines/schemas.js'

const none: VmFound = { found: 'none' }
const gone: VmFound = { found: 'gone' }
const running: VmFound = { found: 'alive', run: 'running' }
const paused: VmFound = { found: 'alive', run: 'paused' }
const migrated: VmFound = { found: 'alive', run: 'migrated' }
const broken: VmFound = { found: 'alive', run: 'broken' }
const r = (state: ReconcileInput['state'], vm: VmFound, snapshot = false): string => {
  const d = reconcile({ state, vm, snapshot })
  return d.action === 'settle' ? `settle ${d.state}${d.discardSnapshot ? ' discard' : ''}` : d.action === 'crashed' ? `crashed${d.discardSnapshot ? ' discard' : ''}` : d.action
}

test('an interrupted suspend is finished when the snapshot is whole and undone otherwise', t => {
  t.is(r('suspending', migrated, true), 'finish-suspend')
  t.is(r('suspending', migrated, false), 'unpause', 'migration not finished or its file missing: continue the guest')
  t.is(r('suspending', paused, false), 'unpause', 'paused before the migration began')
  t.is(r('suspending', running, false), 'unpause')
  t.is(r('suspending', broken, true), 'finish-suspend', 'the memory is on disk: the broken VMM is not needed')
  t.is(r('suspending', broken, false), 'crashed discard')
  t.is(r('suspending', gone, true), 'settle suspended')
  t.is(r('suspending', gone, false), 'settle stopped discard')
  t.is(r('suspending', none, true), 'settle suspended')
  t.is(r('suspending', none, false), 'settle stopped discard')
})

test('a machine recorded running is never left started with a paused VM', t => {
  for (const state of ['started', 'starting', 'replacing'] as const) {
    t.is(r(state, running), 'keep', state)
    t.is(r(state, paused), 'unpause', state)
    t.is(r(state, migrated), 'unpause', state)
    t.is(r(state, broken), 'crashed', state)
    t.is(r(state, gone), 'crashed', state)
  }
  t.is(r('starting', none), 'relaunch', 'a start whose VM was never recorded is started again')
  t.is(r('replacing', none), 'relaunch')
  t.is(r('started', none), 'settle stopped')
})

test('a recorded stop or destroy is finished; a paused guest is killed, as it cannot power off', t => {
  t.is(r('stopping', running), 'stop')
  t.is(r('stopping', paused), 'kill')
  t.is(r('stopping', migrated), 'kill')
  t.is(r('stopping', broken), 'kill')
  t.is(r('stopping', gone), 'settle stopped')
  t.is(r('stopping', none), 'settle stopped')
  t.is(r('destroying', running), 'kill')
  t.is(r('destroying', gone), 'destroy')
  t.is(r('destroying', none), 'destroy')
})

test('states without a VM change only when a recorded snapshot is gone', t => {
  t.is(r('suspended', none, true), 'none')
  t.is(r('suspended', none, false), 'settle stopped discard')
  for (const state of ['created', 'stopped', 'failed', 'destroyed'] as const) t.is(r(state, none), 'none', state)
  for (const state of MACHINE_STATES) t.notThrows(() => reconcile({ state, vm: none, snapshot: false }), `a rule for ${state}`)
})
