import { readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Logger } from '../log/logger.js'
import type { SuspendPhase } from './qemu-handle.js'

/** In a machine's directory: the phase to hold a suspend at (`paused` or `migrating`). */
export const SUSPEND_FAULT_FILE = 'fault-suspend'
/** Written there once a suspend is held (its content: the phase). */
export const SUSPEND_HELD_FILE = 'fault-suspend.held'

/**
 * Tests only (agents started with ROOST_ENABLE_FAULTS=1): a suspend whose machine directory
 * holds a `fault-suspend` file naming the current phase stops there for good, after saying so in
 * `fault-suspend.held`: the window in which a test kills the agent is then as wide as it likes.
 */
export function suspendFaultHook (components: { logger: Logger }): (phase: SuspendPhase, snapshotPath: string) => Promise<void> {
  return async (phase, snapshotPath) => {
    const dir = dirname(snapshotPath)
    const wanted = await readFile(join(dir, SUSPEND_FAULT_FILE), 'utf8').catch(() => '')
    if (wanted.trim() !== phase) return
    await writeFile(join(dir, SUSPEND_HELD_FILE), phase)
    components.logger.warn({ phase, dir }, 'suspend held by a test fault (ROOST_ENABLE_FAULTS)')
    await new Promise<never>(() => {})
  }
}
