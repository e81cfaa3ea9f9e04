import { existsSync } from 'node:fs'
import type { MachineState } from '../../src/api/machines/schemas.js'
import type { Logger } from '../../src/log/logger.js'
import type { VmHandle, VmStatus } from '../../src/vmm/driver.js'
import { discardSnapshot } from '../../src/vmm/snapshot-file.js'
import type { MachineRecord } from './record.js'
import { reconcile, type VmFound } from './reconcile.js'

/** What the machine actor lends its recovery: the record and the moves it makes on it. */
export interface RecoveryOps {
  rec: MachineRecord
  /** Where a suspend writes this machine's snapshot. */
  snapshotPath: string
  log: Logger
  /** Makes `h` the machine's watched VM (its runtime recorded). */
  take: (h: VmHandle) => void
  setState: (state: MachineState, type: string, extra?: { message?: string }) => void
  /** Records an `adopt` event without changing state. */
  adoptEvent: (message: string) => void
  startChecks: () => void
  /** Stops the taken VM: gracefully, or by killing it (`force`). */
  beginStop: (force: boolean) => void
  /** The VM that should run is gone: the restart policy decides. */
  crashed: () => void
  finishDestroy: () => void
  relaunch: () => void
}

const WHY: Partial<Record<MachineState, string>> = {
  suspending: 'the agent restarted during a suspend'
}

/** Forgets the machine's snapshot and removes it (and any partial one) from disk. */
export function dropSnapshot (rec: MachineRecord, snapshotPath: string): void {
  const path = rec.snapshot ?? snapshotPath
  rec.snapshot = null
  discardSnapshot(path).catch(() => {})
}

/** A whole snapshot for the recorded state: the one recorded while suspended, the one being written while suspending. */
function snapshotOnDisk (rec: MachineRecord, snapshotPath: string): boolean {
  return rec.state === 'suspended' ? rec.snapshot !== null && existsSync(rec.snapshot) : existsSync(snapshotPath)
}

/**
 * Makes a machine's recorded state true again after an agent restart: asks the rules
 * (reconcile.ts) what to do with what was found of its VM (`h` when alive, `status` its VMM's
 * word), and does it.
 */
export async function applyRecovery (found: VmFound, h: VmHandle | null, status: VmStatus | null, ops: RecoveryOps): Promise<void> {
  const { rec, snapshotPath } = ops
  // A live VMM knows whether the snapshot it was writing is whole (its migration completed).
  const snapshot = found.found === 'alive' && rec.state === 'suspending' && status !== null ? status.snapshot : snapshotOnDisk(rec, snapshotPath)
  const decision = reconcile({ state: rec.state, vm: found, snapshot })
  const detail = status === null ? '' : ` (${status.detail})`
  const why = `${WHY[rec.state] ?? `recorded ${rec.state}`}${detail}`
  if (decision.action !== 'none') ops.log.info({ machine: rec.id, state: rec.state, vm: found, decision }, 'reconciling the recorded state with the VM')
  switch (decision.action) {
    case 'none': return
    case 'keep':
      if (h === null) return
      ops.take(h)
      ops.setState('started', 'adopt', { message: `re-adopted pid ${h.record.pid}` })
      ops.startChecks()
      return
    case 'unpause':
      if (h === null) return
      try {
        await h.unpause()
      } catch (err) {
        ops.log.warn({ err, machine: rec.id }, 'could not continue the paused VM; killing it')
        await h.kill()
        rec.runtime = null
        dropSnapshot(rec, snapshotPath)
        ops.crashed()
        return
      }
      ops.take(h)
      dropSnapshot(rec, snapshotPath)
      ops.setState('started', 'adopt', { message: `${why}: continued the paused VM, pid ${h.record.pid}` })
      ops.startChecks()
      return
    case 'finish-suspend':
      if (h !== null) await h.kill()
      rec.runtime = null
      rec.snapshot = snapshotPath
      ops.setState('suspended', 'suspend', { message: `${why}: the snapshot was complete; suspend finished` })
      return
    case 'stop':
    case 'kill':
      if (h === null) return
      ops.take(h)
      ops.adoptEvent(`re-adopted pid ${h.record.pid}${detail}`)
      ops.beginStop(decision.action === 'kill')
      return
    case 'crashed':
      if (h !== null) await h.kill()
      rec.runtime = null
      if (decision.discardSnapshot) dropSnapshot(rec, snapshotPath)
      ops.crashed()
      return
    case 'settle': {
      const lost = decision.state === 'stopped' && rec.state === 'suspended'
      rec.runtime = null
      if (decision.discardSnapshot) dropSnapshot(rec, snapshotPath)
      if (decision.state === 'suspended') rec.snapshot = snapshotPath
      ops.setState(decision.state, lost ? 'snapshot-lost' : 'recover', { message: lost ? 'the suspend snapshot is gone; the next start boots cold' : why })
      return
    }
    case 'destroy':
      ops.finishDestroy()
      return
    case 'relaunch':
      ops.relaunch()
  }
}
