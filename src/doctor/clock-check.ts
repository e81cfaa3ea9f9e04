import { execFile } from 'node:child_process'
import type { CheckResult } from './doctor-check.js'

const TOOL_TIMEOUT_MS = 5_000
/** STA_UNSYNC in the kernel's timex status: the clock is not synchronized. */
const STA_UNSYNC = 0x40

const TITLE = 'clock sync'
const FIX = 'enable NTP: timedatectl set-ntp true, or apt-get install chrony'

async function run (cmd: string, args: string[]): Promise<string | undefined> {
  return await new Promise(resolve => {
    execFile(cmd, args, { timeout: TOOL_TIMEOUT_MS, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => { resolve(err === null ? stdout : undefined) })
  })
}

type Verdict = { synced: boolean, source: string } | undefined

/** systemd's view: NTPSynchronized (needs timedated on D-Bus; absent in most containers). */
async function fromTimedatectl (): Promise<Verdict> {
  const out = (await run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']))?.trim()
  return out === 'yes' || out === 'no' ? { synced: out === 'yes', source: 'timedatectl' } : undefined
}

/** chrony's view: a leap status of Normal means it is synchronized. */
async function fromChrony (): Promise<Verdict> {
  const leap = /^Leap status\s*:\s*(.+)$/m.exec(await run('chronyc', ['tracking']) ?? '')?.[1]?.trim()
  return leap === undefined ? undefined : { synced: leap === 'Normal', source: 'chronyc tracking' }
}

/** The kernel's own flag, through the adjtimex tool (package adjtimex). */
async function fromAdjtimex (): Promise<Verdict> {
  const status = /^\s*status:\s*(\d+)/m.exec(await run('adjtimex', ['--print']) ?? '')?.[1]
  return status === undefined ? undefined : { synced: (Number(status) & STA_UNSYNC) === 0, source: 'adjtimex' }
}

/**
 * Whether the clock is kept in sync (leases, certificates and the ages the CLI shows read it):
 * asks timedatectl, then chronyc, then adjtimex. When none of them can tell, says unknown.
 */
export async function checkClock (): Promise<CheckResult> {
  for (const source of [fromTimedatectl, fromChrony, fromAdjtimex]) {
    const v = await source()
    if (v === undefined) continue
    if (v.synced) return { id: 'clock', title: TITLE, status: 'ok', detail: `synchronized (${v.source})`, data: { source: v.source } }
    return { id: 'clock', title: TITLE, status: 'warn', detail: `not synchronized (${v.source})`, fix: FIX, data: { source: v.source } }
  }
  return { id: 'clock', title: TITLE, status: 'unknown', detail: 'nothing here can tell (timedatectl has no timedated, no chronyc, no adjtimex)', fix: `${FIX}; or apt-get install adjtimex so roost doctor can read the kernel's sync flag` }
}
