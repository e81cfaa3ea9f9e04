import type { VmStatus } from './driver.js'

/** QEMU run states a guest continues from with `cont`. */
const PAUSED = new Set(['paused', 'prelaunch', 'debug'])
/** QEMU run states that last only while a migration (a snapshot being written) is under way. */
const MIGRATING_STATES = new Set(['finish-migrate', 'save-vm'])
/** Migration statuses after which nothing more happens (QEMU's MigrationStatus; absent means none). */
const MIGRATION_SETTLED = new Set(['none', 'completed', 'failed', 'cancelled'])

/** What `query-status` and `query-migrate` answered. */
export interface QemuStatusWords {
  /** `query-status`'s `status` (QEMU's RunState). */
  status: string
  running: boolean
  /** `query-migrate`'s `status`, or `none` when QEMU gave none. */
  migration: string
}

/** Whether an outgoing migration is still under way: the status will change without anyone asking. */
export function migrationInProgress (w: QemuStatusWords): boolean {
  return !MIGRATION_SETTLED.has(w.migration) || MIGRATING_STATES.has(w.status)
}

/** QEMU's words as a {@link VmStatus} `run` (see there). */
export function runOf (w: QemuStatusWords): VmStatus['run'] {
  if (w.running) return 'running'
  if (w.status === 'postmigrate') return 'migrated'
  if (PAUSED.has(w.status)) return 'paused'
  return 'broken'
}

export function describeStatus (w: QemuStatusWords): string {
  return `qemu ${w.status}${w.running ? '' : ', not running'}, migration ${w.migration}`
}
