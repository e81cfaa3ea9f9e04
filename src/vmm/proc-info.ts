import { readFileSync } from 'node:fs'

/** What /proc/PID/stat says about a process (the fields roost uses). */
export interface ProcStat {
  pid: number
  /** One letter: R, S, D, Z (zombie), T, X … */
  state: string
  /** Field 22: start time after boot, in clock ticks. */
  startTicks: number
}

/**
 * Parses a /proc/PID/stat line. `comm` (field 2) may hold spaces and parentheses, so the
 * fields are counted from the last `)`.
 */
export function parseProcStat (line: string): ProcStat | null {
  const open = line.indexOf('(')
  const close = line.lastIndexOf(')')
  if (open < 0 || close < open) return null
  const pid = Number.parseInt(line.slice(0, open).trim(), 10)
  const rest = line.slice(close + 1).trim().split(/\s+/)
  // rest[0] is field 3 (state), so field 22 is rest[19].
  const state = rest[0]
  const startTicks = Number(rest[19])
  if (!Number.isInteger(pid) || state === undefined || !Number.isSafeInteger(startTicks)) return null
  return { pid, state, startTicks }
}

/** /proc/PID/stat of a live process, or null when there is none. */
export function readProcStat (pid: number): ProcStat | null {
  if (!Number.isInteger(pid) || pid <= 0) return null
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return null
  }
}

/** The process's start time (field 22 of /proc/PID/stat), or null when it does not exist. */
export function readStartTicks (pid: number): number | null {
  return readProcStat(pid)?.startTicks ?? null
}

/**
 * Whether `pid` is still the process that started at `startTicks`: false when it is gone, a
 * zombie, or the pid was reused by a later process.
 */
export function isSameProcess (pid: number, startTicks: number): boolean {
  const st = readProcStat(pid)
  if (st === null) return false
  if (st.state === 'Z' || st.state === 'X') return false
  return st.startTicks === startTicks
}

/** Resident set size in bytes (VmRSS of /proc/PID/status), or null. */
export function readRssBytes (pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m?.[1] === undefined ? null : Number(m[1]) * 1024
  } catch {
    return null
  }
}
