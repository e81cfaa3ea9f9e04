import Database from 'better-sqlite3'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createMachinesClient, type MachinesClient } from '../../src/api/machines/client.js'
import { resolveApiTarget } from '../../src/cli/commands/machines-target.js'
import { isSameProcess } from '../../src/vmm/proc-info.js'

export const COUNTER_APP = fileURLToPath(new URL('../fixtures/apps/counter', import.meta.url))

/** A Machines API client for the agent with this data dir (url from agent.json, token from api.token). */
export async function machinesClient (dataDir: string): Promise<MachinesClient & { url: string, token: string }> {
  const { url, token } = resolveApiTarget({ dataDir })
  return Object.assign(createMachinesClient({ url, token }), { url, token })
}

/** GET http://host:port/path → { status, text }, or null when nothing answers. */
export async function httpGet (endpoint: { host: string, port: number } | null, path = '/', timeoutMs = 2_000): Promise<{ status: number, text: string } | null> {
  if (endpoint === null) return null
  try {
    const res = await fetch(`http://${endpoint.host}:${endpoint.port}${path}`, { signal: AbortSignal.timeout(timeoutMs) })
    return { status: res.status, text: await res.text() }
  } catch {
    return null
  }
}

/** The VMM pids an agent's machine store records as running. */
export function recordedVmPids (dataDir: string): Array<{ pid: number, pidStartTicks: number }> {
  const file = join(dataDir, 'machines.db')
  if (!existsSync(file)) return []
  const db = new Database(file, { readonly: true, fileMustExist: true })
  try {
    const rows = db.prepare<[], { record: string }>('SELECT record FROM machines').all()
    return rows.map(r => (JSON.parse(r.record) as { runtime: { pid: number, pidStartTicks: number } | null }).runtime)
      .filter((r): r is { pid: number, pidStartTicks: number } => r !== null)
  } finally {
    db.close()
  }
}

/**
 * SIGKILLs the VMs an agent recorded (by pid, checked against its start time), with their process
 * groups: a process-driver machine is a group (its `run` and the app it starts), as a dying
 * server takes all of it.
 */
export function killRecordedVms (dataDir: string): number {
  let killed = 0
  for (const r of recordedVmPids(dataDir)) {
    if (isSameProcess(r.pid, r.pidStartTicks)) {
      try { process.kill(-r.pid, 'SIGKILL') } catch {}
      try { process.kill(r.pid, 'SIGKILL') } catch {}
      killed++
    }
  }
  return killed
}

/**
 * Teardown backstop for processes an agent started but had not recorded yet when it was killed:
 * every process whose command line names a path under `dir` (a test's own temp dir) is SIGKILLed,
 * by pid. Returns how many.
 */
export function killProcessesUnder (dir: string): number {
  let killed = 0
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    let argv: string
    try { argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8') } catch { continue }
    if (!argv.split('\0').some(a => a.includes(dir))) continue
    try { process.kill(Number(entry), 'SIGKILL'); killed++ } catch {}
  }
  return killed
}

/**
 * A test's teardown of a local cluster: stops it, then kills by pid whatever VM or process of its
 * hosts is left (recorded in their stores, or naming their dirs), saying so through `log`, and
 * removes `dir` (after killing what names it, such as machines of its image store).
 */
export async function tearDownCluster (cluster: { stop: () => Promise<unknown>, hosts: Array<{ name: string, dataDir: string }> } | undefined, dir: string | undefined, log?: (line: string) => void): Promise<void> {
  if (cluster !== undefined) {
    await cluster.stop()
    for (const h of cluster.hosts) {
      const n = killRecordedVms(h.dataDir)
      killProcessesUnder(h.dataDir)
      if (n > 0) log?.(`killed ${n} machine(s) left by ${h.name}`)
    }
  }
  if (dir !== undefined) {
    killProcessesUnder(dir)
    await rm(dir, { recursive: true, force: true })
  }
}
