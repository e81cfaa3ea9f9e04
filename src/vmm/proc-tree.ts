import { readdirSync, readFileSync } from 'node:fs'

/**
 * Pids of the live (not zombie) processes in process group `pgid`, read from /proc. A process
 * that ends while it is read is left out.
 */
export function liveGroupMembers (pgid: number): number[] {
  const members: number[] = []
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return members
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    let line: string
    try {
      line = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue
    }
    // Fields after the last ')': state (3), ppid (4), pgrp (5), …
    const rest = line.slice(line.lastIndexOf(')') + 1).trim().split(/\s+/)
    if (Number(rest[2]) !== pgid) continue
    if (rest[0] === 'Z' || rest[0] === 'X') continue
    members.push(Number(entry))
  }
  return members
}
