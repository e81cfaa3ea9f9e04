import { accessSync, constants, readFileSync } from 'node:fs'
import { findExecutable, TUN_DEVICE } from '../mesh/wg-command.js'
import { KERNEL_BUILD_PACKAGES, missingKernelBuildTools } from '../vmm/image/kernel-build.js'
import { qemuAvailable } from '../vmm/qemu-driver.js'
import type { CheckResult } from './doctor-check.js'

/** Bit of CAP_NET_ADMIN in /proc/self/status's CapEff. */
const CAP_NET_ADMIN = 12n

/** qemu-system-x86_64: required unless the agent runs machines as plain processes. */
export async function checkQemu (driver: 'auto' | 'qemu' | 'process'): Promise<CheckResult & { path?: string }> {
  const q = await qemuAvailable()
  const title = 'qemu'
  if (q.ok) return { id: 'qemu', title, status: 'ok', detail: `${q.path ?? 'qemu-system-x86_64'} ${q.version ?? ''}`.trim(), ...(q.path === undefined ? {} : { path: q.path }) }
  const fix = 'apt-get install qemu-system-x86 (or set ROOST_QEMU to its path)'
  if (driver === 'process') return { id: 'qemu', title, status: 'ok', detail: 'not installed; not needed with --driver process' }
  if (driver === 'auto') return { id: 'qemu', title, status: 'warn', detail: 'qemu-system-x86_64 not found: with --driver auto, machines run as plain processes, not microVMs', fix }
  return { id: 'qemu', title, status: 'fail', detail: 'qemu-system-x86_64 not found, and --driver qemu needs it', fix }
}

function hasNetAdmin (): boolean {
  try {
    const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    return capEff !== undefined && ((BigInt(`0x${capEff}`) >> CAP_NET_ADMIN) & 1n) === 1n
  } catch {
    return false
  }
}

/**
 * What the WireGuard mesh needs: wireguard-go, wg, /dev/net/tun and root (the agent creates
 * interfaces and namespaces). Required with --wireguard on; with auto the agent falls back to
 * hyperswarm streams between hosts, which works but carries machine traffic less directly.
 */
export function checkWireguard (mode: 'auto' | 'on' | 'off'): CheckResult {
  const title = 'wireguard'
  if (mode === 'off') return { id: 'wireguard', title, status: 'ok', detail: 'not used (--wireguard off)' }
  const missing: string[] = []
  for (const bin of ['wireguard-go', 'wg']) if (findExecutable(bin) === null) missing.push(bin)
  const fixes = missing.length === 0 ? [] : ['apt-get install wireguard-go wireguard-tools']
  try {
    accessSync(TUN_DEVICE, constants.R_OK | constants.W_OK)
  } catch {
    missing.push(TUN_DEVICE)
    fixes.push('load the tun module (modprobe tun); in a container or under systemd, allow /dev/net/tun (DeviceAllow=/dev/net/tun rw)')
  }
  if (process.getuid?.() !== 0) {
    missing.push('root')
    fixes.push(`run the agent as root${hasNetAdmin() ? '' : ' (it needs CAP_NET_ADMIN for interfaces and namespaces)'}`)
  }
  if (missing.length === 0) return { id: 'wireguard', title, status: 'ok', detail: `wireguard-go, wg and ${TUN_DEVICE} present; running as root` }
  const detail = `missing: ${missing.join(', ')}`
  if (mode === 'on') return { id: 'wireguard', title, status: 'fail', detail: `${detail} (--wireguard on needs them)`, fix: fixes.join('; ') }
  return { id: 'wireguard', title, status: 'warn', detail: `${detail}: with --wireguard auto, hosts talk over hyperswarm streams only`, fix: fixes.join('; ') }
}

/** Kernel build tools, or a minimal kernel already built: without either, images use Debian's kernel (slower boots). */
export async function checkKernelTools (cachedMinimalKernel: boolean): Promise<CheckResult> {
  const title = 'kernel build tools'
  const missing = await missingKernelBuildTools()
  if (missing.length === 0) return { id: 'kernel-tools', title, status: 'ok', detail: 'present: roost image kernel can build the minimal guest kernel' }
  if (cachedMinimalKernel) return { id: 'kernel-tools', title, status: 'ok', detail: `missing ${missing.join(', ')}, but a minimal guest kernel is already built` }
  return {
    id: 'kernel-tools', title, status: 'warn', detail: `missing ${missing.join(', ')}, and no minimal guest kernel is cached: images use Debian's kernel (slower boots)`,
    fix: `apt-get install ${KERNEL_BUILD_PACKAGES.join(' ')}, then roost image kernel`
  }
}
