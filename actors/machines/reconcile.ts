import type { MachineState } from '../../src/api/machines/schemas.js'
import type { VmStatus } from '../../src/vmm/driver.js'

/**
 * What a new agent finds of a machine's VM: none recorded, recorded but gone (its process
 * ended, or its monitor is dead), or alive with what the VMM says it is doing.
 */
export type VmFound =
  | { found: 'none' }
  | { found: 'gone' }
  | { found: 'alive', run: VmStatus['run'] }

export interface ReconcileInput {
  /** The state the machine store recorded before the agent went away. */
  state: MachineState
  vm: VmFound
  /** Whether a whole suspend snapshot is on disk (for `suspended`: the recorded one; for `suspending`: the one being written). */
  snapshot: boolean
}

/**
 * What to do so that the recorded state is true again.
 * - `keep`: the VM runs as recorded: adopt it, `started`.
 * - `unpause`: the VM is alive but paused (an interrupted suspend): continue it, `started`, drop any partial snapshot.
 * - `finish-suspend`: the snapshot is whole: end the VMM, `suspended`.
 * - `stop`: finish the recorded stop gracefully.
 * - `kill`: finish the recorded stop or destroy by killing (a paused or broken guest cannot power off).
 * - `crashed`: the VM that should run is gone or cannot run: kill what is left, apply the restart policy.
 * - `settle`: no VM: record `state`.
 * - `destroy`: no VM: finish the destroy.
 * - `relaunch`: a start whose VM was never recorded: start it again.
 * - `none`: the state involves no VM: nothing to do.
 */
export type ReconcileAction =
  | { action: 'keep' | 'unpause' | 'finish-suspend' | 'stop' | 'kill' | 'destroy' | 'relaunch' | 'none' }
  | { action: 'crashed', discardSnapshot: boolean }
  | { action: 'settle', state: 'stopped' | 'suspended', discardSnapshot: boolean }

type Rule = (vm: VmFound, snapshot: boolean) => ReconcileAction

const NOTHING: Rule = () => ({ action: 'none' })

/** A machine that should be running (or coming up) and whose VM should be adopted. */
const running = (noVm: ReconcileAction): Rule => (vm) => {
  if (vm.found === 'none') return noVm
  if (vm.found === 'gone') return { action: 'crashed', discardSnapshot: false }
  switch (vm.run) {
    case 'running': return { action: 'keep' }
    case 'paused':
    case 'migrated': return { action: 'unpause' }
    case 'broken': return { action: 'crashed', discardSnapshot: false }
  }
}

/**
 * The rules, one per recorded state. The VM's own word wins over the record: a machine is never
 * left `started` while its VM is paused, nor `suspended` without a whole snapshot.
 */
const RULES: Record<MachineState, Rule> = {
  created: NOTHING,
  stopped: NOTHING,
  failed: NOTHING,
  destroyed: NOTHING,
  suspended: (_vm, snapshot) => snapshot ? { action: 'none' } : { action: 'settle', state: 'stopped', discardSnapshot: true },
  starting: running({ action: 'relaunch' }),
  replacing: running({ action: 'relaunch' }),
  started: running({ action: 'settle', state: 'stopped', discardSnapshot: false }),
  suspending: (vm, snapshot) => {
    if (vm.found !== 'alive') return snapshot ? { action: 'settle', state: 'suspended', discardSnapshot: false } : { action: 'settle', state: 'stopped', discardSnapshot: true }
    if (snapshot && (vm.run === 'migrated' || vm.run === 'broken')) return { action: 'finish-suspend' }
    if (vm.run === 'broken') return { action: 'crashed', discardSnapshot: true }
    return { action: 'unpause' }
  },
  stopping: (vm) => {
    if (vm.found !== 'alive') return { action: 'settle', state: 'stopped', discardSnapshot: false }
    return vm.run === 'running' ? { action: 'stop' } : { action: 'kill' }
  },
  destroying: (vm) => vm.found === 'alive' ? { action: 'kill' } : { action: 'destroy' }
}

/** The one place that says how a recorded state and what the VMM reports become a true state again. */
export function reconcile (input: ReconcileInput): ReconcileAction {
  return RULES[input.state](input.vm, input.snapshot)
}
