import type { MachineState } from '../../src/api/machines/schemas.js'

/** One line for people about a machine changing state (`machine.state` events). */
export function machineStateMessage (m: { id: string, app: string }, from: MachineState | null, to: MachineState, cause: string, detail?: string): string {
  const change = from === null || from === to ? to : `${from} → ${to}`
  return `machine ${m.id} (${m.app}) ${change} (${cause}${detail === undefined ? '' : `: ${detail}`})`
}
