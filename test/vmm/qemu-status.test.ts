import test from 'ava'
import { migrationInProgress, runOf } from '../../src/vmm/qemu-status.js'

test('QEMU run states map to what a guest can do next', t => {
  t.is(runOf({ status: 'running', running: true, migration: 'none' }), 'running')
  t.is(runOf({ status: 'paused', running: false, migration: 'none' }), 'paused')
  t.is(runOf({ status: 'postmigrate', running: false, migration: 'completed' }), 'migrated')
  t.is(runOf({ status: 'internal-error', running: false, migration: 'none' }), 'broken')
  t.is(runOf({ status: 'guest-panicked', running: false, migration: 'none' }), 'broken')
})

test('a migration is in progress until it completed, failed or was cancelled', t => {
  t.true(migrationInProgress({ status: 'paused', running: false, migration: 'active' }))
  t.true(migrationInProgress({ status: 'paused', running: false, migration: 'setup' }))
  t.true(migrationInProgress({ status: 'finish-migrate', running: false, migration: 'completed' }), 'QEMU is still switching over')
  t.false(migrationInProgress({ status: 'postmigrate', running: false, migration: 'completed' }))
  t.false(migrationInProgress({ status: 'paused', running: false, migration: 'failed' }))
  t.false(migrationInProgress({ status: 'paused', running: false, migration: 'none' }))
})
