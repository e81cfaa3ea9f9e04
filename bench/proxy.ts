import { execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { labAvailable } from '../src/lab/lab.js'
import { wireguardAvailable } from '../src/mesh/wg-command.js'
import { qemuAvailable } from '../src/vmm/qemu-driver.js'
import { benchCpus } from './helpers/cpu-pin.js'
import { benchAutostart } from './helpers/proxy-autostart.js'
import { benchBackhaul } from './helpers/proxy-backhaul.js'
import { benchLocalCases } from './helpers/proxy-local.js'
import { progress } from './helpers/report.js'
import { writeWrkScript } from './helpers/wrk.js'

const ALL = ['http', 'https', 'tcp', 'conn-churn', 'backhaul', 'autostart']
const LOCAL = ['http', 'https', 'tcp', 'conn-churn']

/** null when `name` is on PATH, else what to install. */
function tool (name: string, pkg: string): string | null {
  try {
    execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' })
    return null
  } catch {
    return `${name} (apt-get install ${pkg})`
  }
}

/** What the chosen cases need and this machine lacks. */
async function missingFor (cases: string[]): Promise<string[]> {
  const missing: string[] = []
  const need = (m: string | null): void => { if (m !== null) missing.push(m) }
  if (cases.some(c => c !== 'autostart')) {
    need(tool('wrk', 'wrk'))
    need(tool('nginx', 'nginx-light'))
    need(tool('taskset', 'util-linux'))
  }
  if (cases.some(c => LOCAL.includes(c))) {
    need(tool('haproxy', 'haproxy'))
    try { benchCpus() } catch (err) { missing.push((err as Error).message) }
  }
  if (cases.includes('backhaul')) {
    const lab = labAvailable()
    const wg = wireguardAvailable()
    if (!lab.ok) missing.push(`the backhaul case's lab: ${lab.reason}`)
    if (!wg.ok) missing.push(`the backhaul case's WireGuard: ${wg.reason}`)
  }
  if (cases.includes('autostart')) {
    const q = await qemuAvailable()
    if (!q.ok) missing.push('qemu-system-x86_64 for the autostart case (apt-get install qemu-system-x86)')
    need(tool('busybox', 'busybox-static'))
  }
  return missing
}

/**
 * roost's router against HAProxy (single-host cases), against wrk straight to the machine
 * through the same tunnel (backhaul), and a suspended machine's wake-up (autostart). BENCH_CASES
 * picks cases (comma-separated; default all).
 */
export async function run (): Promise<void> {
  const cases = (process.env.BENCH_CASES ?? ALL.join(',')).split(',').map(c => c.trim()).filter(c => c !== '')
  const unknown = cases.filter(c => !ALL.includes(c))
  if (unknown.length > 0) throw new Error(`unknown case(s) ${unknown.join(', ')}; cases: ${ALL.join(', ')}`)
  const missing = await missingFor(cases)
  if (missing.length > 0) throw new Error(`bench proxy cannot measure ${cases.join(', ')} here; missing: ${missing.join('; ')}`)
  const load = loadavg()[0] ?? 0
  if (load > 1.5) progress(`the 1-minute load average is ${load.toFixed(2)}: other work shares these cores, so the figures will be noisy (each line carries loadAvg1 and the per-round ratios)`)
  const dir = await mkdtemp(join(tmpdir(), 'roost-bench-proxy-'))
  try {
    const script = await writeWrkScript(dir)
    const local = cases.filter(c => LOCAL.includes(c))
    if (local.length > 0) await benchLocalCases(join(dir, 'local'), script, local)
    if (cases.includes('backhaul')) await benchBackhaul(join(dir, 'backhaul'), script)
    if (cases.includes('autostart')) await benchAutostart(join(dir, 'autostart'))
  } finally {
    if (process.env.BENCH_PROXY_KEEP === '1') process.stderr.write(`# kept ${dir} (BENCH_PROXY_KEEP=1)\n`)
    else await rm(dir, { recursive: true, force: true })
  }
}
