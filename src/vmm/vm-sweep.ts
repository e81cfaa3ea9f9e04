import { readdirSync, readFileSync } from 'node:fs'
import { join, sep } from 'node:path'
import { readStoredMachines } from './machine-store.js'
import { isSameProcess, readStartTicks } from './proc-info.js'

const KILL_WAIT_MS = 5_000
const GONE_POLL_MS = 50

/** A machine's VM (or process-driver app) still running. */
export interface LiveVm {
  machineId: string
  pid: number
  /** /proc start time, so a reused pid is never taken for the VM. */
  startTicks: number
}

function cmdlineOf (pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
  } catch {
    return []
  }
}

/**
 * The VMs of the agent with this data dir that still run: those its machine store records
 * (pid checked against its start time), and any process whose command line names a machine's
 * directory (a VM the agent started but had not recorded yet, e.g. QEMU's QMP socket path).
 */
export function liveVmsOf (dataDir: string): LiveVm[] {
  const found = new Map<number, LiveVm>()
  for (const m of readStoredMachines(join(dataDir, 'machines.db'))) {
    const runtime = m.record.runtime as { pid?: unknown, pidStartTicks?: unknown } | null | undefined
    if (typeof runtime?.pid !== 'number' || typeof runtime.pidStartTicks !== 'number') continue
    if (isSameProcess(runtime.pid, runtime.pidStartTicks)) found.set(runtime.pid, { machineId: m.id, pid: runtime.pid, startTicks: runtime.pidStartTicks })
  }
  const machinesDir = join(dataDir, 'machines') + sep
  let entries: string[] = []
  try { entries = readdirSync('/proc') } catch {}
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (pid === process.pid || found.has(pid)) continue
    const named = cmdlineOf(pid).find(a => a.includes(machinesDir))
    if (named === undefined) continue
    const machineId = named.slice(named.indexOf(machinesDir) + machinesDir.length).split(sep)[0] ?? '?'
    const startTicks = readStartTicks(pid)
    if (startTicks !== null && isSameProcess(pid, startTicks)) found.set(pid, { machineId, pid, startTicks })
  }
  return [...found.values()].sort((a, b) => a.pid - b.pid)
}

/**
 * SIGKILLs each VM's process group (its pid leads one: VMs are started detached), and the pid
 * itself, and waits until they are gone. Resolves with the ones still alive after the wait.
 */
export async function killVms (vms: LiveVm[], waitMs = KILL_WAIT_MS): Promise<LiveVm[]> {
  for (const vm of vms) {
    if (!isSameProcess(vm.pid, vm.startTicks)) continue
    try { process.kill(-vm.pid, 'SIGKILL') } catch {}
    try { process.kill(vm.pid, 'SIGKILL') } catch {}
  }
  const deadline = Date.now() + waitMs
  for (;;) {
    const left = vms.filter(vm => isSameProcess(vm.pid, vm.startTicks))
    if (left.length === 0 || Date.now() >= deadline) return left
    await new Promise(resolve => setTimeout(resolve, GONE_POLL_MS))
  }
}
