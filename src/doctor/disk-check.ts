import { statfs } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { CheckResult } from './doctor-check.js'

const MIB = 1024 * 1024
/** Below this the agent cannot keep images, snapshots and its state: fail. */
export const DISK_FAIL_BYTES = 512 * MIB
/** Below this a few images fill it: warn. */
export const DISK_WARN_BYTES = 2048 * MIB

/** The nearest existing directory at or above `dir` (the data dir may not exist before the first start). */
async function existing (dir: string): Promise<{ dir: string, bsize: number, bavail: number }> {
  for (let d = dir; ; d = dirname(d)) {
    try {
      const s = await statfs(d)
      return { dir: d, bsize: s.bsize, bavail: s.bavail }
    } catch (err) {
      if (dirname(d) === d) throw err
    }
  }
}

/** Free space where the data dir lives (images, snapshots, machines' disks, state). */
export async function checkDisk (dataDir: string): Promise<CheckResult> {
  const s = await existing(dataDir)
  const free = s.bsize * s.bavail
  const where = s.dir === dataDir ? dataDir : `${dataDir} (not created yet; measured at ${s.dir})`
  const detail = `${Math.floor(free / MIB)} MiB free for ${where}`
  const data = { dataDir, freeBytes: free }
  if (free < DISK_FAIL_BYTES) return { id: 'disk', title: 'disk space', status: 'fail', detail, fix: `free space or choose another --data-dir (at least ${DISK_WARN_BYTES / MIB} MiB)`, data }
  if (free < DISK_WARN_BYTES) return { id: 'disk', title: 'disk space', status: 'warn', detail, fix: 'a few images and snapshots fill this: free some space', data }
  return { id: 'disk', title: 'disk space', status: 'ok', detail, data }
}
