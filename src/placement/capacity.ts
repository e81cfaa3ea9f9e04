import { NoCapacityError } from './errors.js'

/** What one machine takes of its host. */
export interface MachineNeed {
  cpus: number
  memoryMb: number
}

/** A machine's guest, as its config says (defaults: 1 vCPU, 128 MiB). */
export interface GuestSize {
  cpus?: number
  memory_mb?: number
}

export const DEFAULT_MACHINE_CPUS = 1
export const DEFAULT_MACHINE_MEMORY_MB = 128

export function needOf (guest: GuestSize | undefined): MachineNeed {
  return { cpus: guest?.cpus ?? DEFAULT_MACHINE_CPUS, memoryMb: guest?.memory_mb ?? DEFAULT_MACHINE_MEMORY_MB }
}

export interface CapacityInit {
  /** vCPUs the host offers machines (shared vCPUs: cores × overcommit). */
  cpus: number
  memoryMb: number
}

/**
 * A host's own account of what its machines hold. Only the host itself decides whether a machine
 * fits (two placers racing cannot overbook it); everyone else reads `free()` from its `hosts` row.
 */
export interface CapacityLedger {
  readonly total: CapacityInit
  /** Holds room for a machine; throws {@link NoCapacityError} when it does not fit. Re-reserving an id replaces its hold. */
  reserve: (id: string, need: MachineNeed) => void
  /** Records a machine the host already has (re-adopted at start), even past the total. */
  hold: (id: string, need: MachineNeed) => void
  release: (id: string) => void
  free: () => MachineNeed
  /** Called after every change (e.g. to republish the host row). */
  onChange: (fn: () => void) => () => void
}

export function createCapacityLedger (init: CapacityInit): CapacityLedger {
  const held = new Map<string, MachineNeed>()
  const listeners = new Set<() => void>()
  const used = (except?: string): MachineNeed => {
    let cpus = 0
    let memoryMb = 0
    for (const [id, n] of held) {
      if (id === except) continue
      cpus += n.cpus
      memoryMb += n.memoryMb
    }
    return { cpus, memoryMb }
  }
  const changed = (): void => { for (const fn of listeners) fn() }
  return {
    total: { ...init },
    reserve (id, need) {
      const u = used(id)
      if (u.cpus + need.cpus > init.cpus || u.memoryMb + need.memoryMb > init.memoryMb) {
        throw new NoCapacityError(`no room for ${need.cpus} vCPU / ${need.memoryMb} MiB: ${Math.max(0, init.cpus - u.cpus)} vCPU / ${Math.max(0, init.memoryMb - u.memoryMb)} MiB free`, {
          cpusFree: Math.max(0, init.cpus - u.cpus), memoryFreeMb: Math.max(0, init.memoryMb - u.memoryMb)
        })
      }
      held.set(id, { ...need })
      changed()
    },
    hold (id, need) {
      held.set(id, { ...need })
      changed()
    },
    release (id) {
      if (held.delete(id)) changed()
    },
    free () {
      const u = used()
      return { cpus: Math.max(0, init.cpus - u.cpus), memoryMb: Math.max(0, init.memoryMb - u.memoryMb) }
    },
    onChange (fn) {
      listeners.add(fn)
      return () => { listeners.delete(fn) }
    }
  }
}
