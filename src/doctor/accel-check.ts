import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../log/logger.js'
import { findStaticBusybox, kvmUsable, probeBoot } from '../vmm/accel-probe.js'
import type { CheckResult } from './doctor-check.js'

const TITLE = 'virtualization'

/** The newest file named `name` one level under `dir`, or undefined. */
async function newestUnder (dir: string, name: string): Promise<string | undefined> {
  const entries = await readdir(dir).catch(() => [] as string[])
  let best: { path: string, mtime: number } | undefined
  for (const e of entries) {
    const path = join(dir, e, name)
    const st = await stat(path).catch(() => undefined)
    if (st?.isFile() === true && (best === undefined || st.mtimeMs > best.mtime)) best = { path, mtime: st.mtimeMs }
  }
  return best?.path
}

/**
 * A guest kernel already in the cache to boot the probe with: Debian's (what images use by
 * default), else the minimal one `roost image kernel` builds. Undefined when neither is there.
 */
export async function cachedGuestKernel (cacheDir: string): Promise<string | undefined> {
  return await newestUnder(join(cacheDir, 'kernel'), 'vmlinuz') ?? await cachedMinimalKernel(cacheDir)
}

/** The minimal guest kernel `roost image kernel` built into the cache, or undefined. */
export async function cachedMinimalKernel (cacheDir: string): Promise<string | undefined> {
  return await newestUnder(join(cacheDir, 'kernels'), 'vmlinux')
}

/**
 * Whether machines get KVM or TCG here, decided as the agent's qemu driver decides it: /dev/kvm
 * must be usable and a probe guest must actually boot under KVM (nested or paravirtual KVM may
 * open fine and still not run a guest). Boots the probe now; its cached verdicts are not read.
 */
export async function checkAccel (init: { qemuPath: string | undefined, cacheDir: string, timeoutMs?: number }, components: { logger: Logger }): Promise<CheckResult> {
  const id = 'kvm'
  if (init.qemuPath === undefined) return { id, title: TITLE, status: 'unknown', detail: 'cannot probe: qemu-system-x86_64 is missing', fix: 'install qemu (see the qemu check), then run roost doctor again' }
  if (!await kvmUsable()) {
    return {
      id, title: TITLE, status: 'warn', detail: 'TCG (/dev/kvm is missing or not readable and writable by this user): machines run emulated, several times slower', data: { accel: 'tcg', kvmDevice: false },
      fix: 'enable virtualization (VT-x/AMD-V) in the firmware or the hypervisor, load kvm_intel or kvm_amd, and run the agent as root or in group kvm'
    }
  }
  const kernel = await cachedGuestKernel(init.cacheDir)
  if (kernel === undefined) {
    return { id, title: TITLE, status: 'unknown', detail: `/dev/kvm is usable, but no guest kernel is cached in ${init.cacheDir} to boot the probe with`, fix: 'build an image once (roost image build, or roost image kernel), then run roost doctor again' }
  }
  if (await findStaticBusybox() === null) {
    return { id, title: TITLE, status: 'unknown', detail: '/dev/kvm is usable, but there is no static busybox to build the probe guest from', fix: 'apt-get install busybox-static' }
  }
  const t0 = Date.now()
  const booted = await probeBoot({ qemuPath: init.qemuPath, kernel, accel: 'kvm', ...(init.timeoutMs === undefined ? {} : { timeoutMs: init.timeoutMs }) }, components)
  if (booted) return { id, title: TITLE, status: 'ok', detail: `KVM (a probe guest booted under KVM in ${Date.now() - t0} ms)`, data: { accel: 'kvm', kvmDevice: true, kernel } }
  return {
    id, title: TITLE, status: 'warn', detail: 'TCG (KVM present but can\'t boot a guest): machines run emulated, several times slower', data: { accel: 'tcg', kvmDevice: true, kernel },
    fix: 'nested virtualization is off or broken in the hypervisor this host runs in: enable it (e.g. kvm_intel nested=1 on the outer host), or run on bare metal'
  }
}
