import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { controlSocketPath } from '../api/control-api.js'
import { isSameProcess, readStartTicks } from '../vmm/proc-info.js'

/**
 * The file `roost dev` leaves in the folder it runs in, naming the data dir of its first host,
 * so that CLI commands run from that folder reach it without `--data-dir` (as `nomad agent
 * -dev` lets `nomad node status` run bare). Removed when `roost dev` exits.
 */
export const DEV_POINTER_FILE = '.roost-dev.json'

/** What the pointer holds. */
export interface DevPointer {
  /** Data dir the CLI talks to (the first host's). */
  dataDir: string
  /** The `roost dev` process and its start time (so a reused pid does not pass for it). */
  pid: number
  startTicks: number
}

/** Writes the pointer in `cwd` for this process (atomically: a command never reads half of it). */
export function writeDevPointer (cwd: string, dataDir: string): void {
  const pointer: DevPointer = { dataDir: resolve(dataDir), pid: process.pid, startTicks: readStartTicks(process.pid) ?? 0 }
  const file = join(cwd, DEV_POINTER_FILE)
  writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(pointer) + '\n')
  renameSync(`${file}.${process.pid}.tmp`, file)
}

/** Removes the pointer in `cwd` if this process wrote it (another `roost dev` may have replaced it). */
export function removeDevPointer (cwd: string): void {
  const file = join(cwd, DEV_POINTER_FILE)
  try {
    const pointer = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevPointer>
    if (pointer.pid === process.pid) rmSync(file, { force: true })
  } catch {}
}

/** Why a pointer cannot be used; undefined when it can. */
function staleReason (pointer: Partial<DevPointer>): string | undefined {
  if (typeof pointer.dataDir !== 'string' || typeof pointer.pid !== 'number' || typeof pointer.startTicks !== 'number') return 'it is not a roost dev pointer'
  if (!isSameProcess(pointer.pid, pointer.startTicks)) return `roost dev (pid ${pointer.pid}) is no longer running`
  if (!existsSync(controlSocketPath(pointer.dataDir))) return `no agent socket at ${controlSocketPath(pointer.dataDir)}`
  return undefined
}

/**
 * The data dir the pointer in `cwd` names while its `roost dev` runs; undefined without a
 * pointer, or (after `note` says why) with a stale one.
 */
export function devPointerDataDir (cwd: string, note: (message: string) => void): string | undefined {
  const file = join(cwd, DEV_POINTER_FILE)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  let pointer: Partial<DevPointer>
  try {
    pointer = JSON.parse(text) as Partial<DevPointer>
  } catch {
    pointer = {}
  }
  const stale = staleReason(pointer)
  if (stale === undefined) return pointer.dataDir
  note(`note: ignoring ${file}: ${stale}`)
  return undefined
}
