import type { KernelKind } from './image/manifest.js'

/** Which accelerator QEMU runs the guest with. */
export type QemuAccel = 'kvm' | 'tcg'

/** How the guest's NIC is wired on the host. */
export type QemuNet =
  /** User-mode networking (no root): the guest port is forwarded from 127.0.0.1:hostPort. */
  | { mode: 'user', hostPort: number, guestPort: number }
  /** A tap device that already exists (in the namespace QEMU runs in). */
  | { mode: 'tap', ifname: string, mac?: string }
  /** No NIC at all (the accel probe). */
  | { mode: 'none' }

export interface QemuArgsInit {
  accel: QemuAccel
  cpus: number
  memoryMb: number
  kernel: string
  initrd: string
  /** The serial console goes here (appended, never truncated). */
  consoleLog: string
  qmpSocket: string
  /** The host clock for `tsc_early_khz=` (null: left out). */
  tscKhz: number | null
  net: QemuNet
  /** Boot from a snapshot written by `migrate` to this file. */
  incomingSnapshot?: string
  /** More kernel command-line words. */
  append?: string[]
  /** The image's kernel (ImageManifest.kernelKind); default distribution. */
  kernelKind?: KernelKind
}

/** Quotes one word for /bin/sh (QEMU runs `exec:` migration URIs through `sh -c`). */
export function shellQuote (s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`
}

/**
 * Under TCG, QEMU emulates `rep movsb` slowly; hiding ERMS/FSRM makes the kernel copy memory with
 * plain moves (measured: part of the minimal kernel's ~0.45 s boot).
 */
const MINIMAL_TCG_CPU = 'max,-erms,-fsrm'

/**
 * The minimal kernel skips the IO-APIC timer check (a busy wait of a few ticks) and has no
 * crypto, LSMs, audit or IMA to turn off. Not `noapictimer`: with ACPI on, the guest then never
 * finishes powering off (the power button stops the app, QEMU keeps running). Not
 * `init_on_free=1`: it makes the kernel zero every free page at boot, which touches all guest
 * RAM (RSS ~205 MB instead of ~100 at -m 128).
 */
const MINIMAL_CMDLINE = ['no_timer_check']

/** The kernel command line of a roost guest. */
export function kernelCmdline (tscKhz: number | null, extra: string[] = [], kind: KernelKind = 'distribution'): string {
  // reboot=t + -no-reboot: a guest reboot or panic (panic=-1) ends QEMU instead of looping.
  // The rest skip boot work a microVM does not need (crypto self-tests, LSMs, audit, IMA): the
  // minimal kernel has none of those, so it gets none of the words (unknown ones go to init).
  // Not `noapictimer` on the cloud kernel: it leaves the guest without a working timer (sleeps
  // never end).
  const words = kind === 'minimal-pvh'
    ? ['console=ttyS0', 'reboot=t', 'panic=-1', 'quiet', ...MINIMAL_CMDLINE]
    : ['console=ttyS0', 'reboot=t', 'panic=-1', 'quiet', 'cryptomgr.notests', 'security=none', 'audit=0', 'ima_appraise=off', 'init_on_free=1']
  if (tscKhz !== null) words.push(`tsc_early_khz=${tscKhz}`)
  return [...words, ...extra].join(' ')
}

function netArgs (net: QemuNet): string[] {
  switch (net.mode) {
    case 'user':
      return ['-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${net.hostPort}-:${net.guestPort}`, '-device', 'virtio-net-device,netdev=n0']
    case 'tap':
      return ['-netdev', `tap,id=n0,ifname=${net.ifname},script=no,downscript=no`, '-device', `virtio-net-device,netdev=n0${net.mac === undefined ? '' : `,mac=${net.mac}`}`]
    case 'none':
      return []
  }
}

/**
 * QEMU's argv (without the program) for a microvm guest: no firmware, no default devices, the
 * serial console appended to a file, QMP on a unix socket and one virtio-mmio NIC.
 */
export function buildQemuArgs (a: QemuArgsInit): string[] {
  const minimal = a.kernelKind === 'minimal-pvh'
  const args = [
    '-M', 'microvm',
    '-accel', a.accel,
    '-cpu', a.accel === 'kvm' ? 'host' : minimal ? MINIMAL_TCG_CPU : 'max',
    '-smp', String(a.cpus),
    '-m', String(a.memoryMb),
    '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
    '-kernel', a.kernel,
    '-initrd', a.initrd,
    '-append', kernelCmdline(a.tscKhz, a.append, a.kernelKind),
    '-chardev', `file,id=con0,path=${a.consoleLog},append=on`,
    '-serial', 'chardev:con0',
    '-qmp', `unix:${a.qmpSocket},server=on,wait=off`,
    ...netArgs(a.net)
  ]
  if (a.incomingSnapshot !== undefined) args.push('-incoming', `exec:cat ${shellQuote(a.incomingSnapshot)}`)
  return args
}
