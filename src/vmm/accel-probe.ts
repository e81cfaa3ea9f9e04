import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { access, mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '../log/logger.js'
import { createCpioGz, S_IFDIR, S_IFREG } from './image/cpio.js'
import { buildQemuArgs, type QemuAccel } from './qemu-args.js'
import { readTail } from './qemu-console.js'
import { hostCpuKhz } from './host-cpu.js'

const PROBE_TIMEOUT_MS = 8_000
const PROBE_POLL_MS = 50
const PROBE_MARKER = 'ROOST-ACCEL-PROBE-OK'
const BUSYBOX_PATHS = ['/bin/busybox', '/usr/bin/busybox']

export interface AccelProbeInit {
  qemuPath: string
  /** `qemu-system-x86_64 --version`'s first line: part of the cache key. */
  qemuVersion: string
  /** The guest kernel to probe with (part of the cache key, with its size). */
  kernel: string
  cacheDir: string
  timeoutMs?: number
}

export interface AccelDecision {
  accel: QemuAccel
  /** Why, for the logs. */
  detail: string
  cached: boolean
}

/** Whether an ELF file has no program interpreter (a static executable). */
export function isStaticElf (buf: Buffer): boolean {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return false
  const phoff = Number(buf.readBigUInt64LE(32))
  const phentsize = buf.readUInt16LE(54)
  const phnum = buf.readUInt16LE(56)
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize
    if (off + 4 > buf.length) return false
    if (buf.readUInt32LE(off) === 3) return false // PT_INTERP
  }
  return true
}

/** A static busybox from the host (/bin/busybox or /usr/bin/busybox), or null. */
export async function findStaticBusybox (): Promise<Buffer | null> {
  for (const p of BUSYBOX_PATHS) {
    try {
      const buf = await readFile(p)
      if (isStaticElf(buf)) return buf
    } catch {}
  }
  return null
}

/** An initramfs whose /init prints a marker on the serial console and powers off. */
export function probeInitramfs (busybox: Buffer): Buffer {
  const init = [
    '#!/bin/busybox sh',
    '/bin/busybox mount -t devtmpfs dev /dev',
    `/bin/busybox echo ${PROBE_MARKER} > /dev/ttyS0 || /bin/busybox echo ${PROBE_MARKER}`,
    '/bin/busybox poweroff -f',
    ''
  ].join('\n')
  return createCpioGz([
    { path: 'bin', mode: S_IFDIR | 0o755 },
    { path: 'bin/busybox', mode: S_IFREG | 0o755, data: busybox },
    { path: 'dev', mode: S_IFDIR | 0o755 },
    { path: 'init', mode: S_IFREG | 0o755, data: Buffer.from(init) }
  ])
}

/** Whether /dev/kvm exists and this user may open it read-write. */
export async function kvmUsable (): Promise<boolean> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK)
    return true
  } catch {
    return false
  }
}

/**
 * Boots `kernel` with the probe initramfs under `accel` and says whether /init's marker reached
 * the console within the timeout. The probe QEMU is always killed before this returns.
 */
export async function probeBoot (init: { qemuPath: string, kernel: string, accel: QemuAccel, timeoutMs?: number }, components: { logger: Logger }): Promise<boolean> {
  const busybox = await findStaticBusybox()
  if (busybox === null) {
    components.logger.warn('no static busybox on this host: cannot probe an accelerator')
    return false
  }
  const dir = await mkdtemp(join(tmpdir(), 'roost-accel-'))
  const consoleLog = join(dir, 'console.log')
  try {
    await writeFile(join(dir, 'initrd.img'), probeInitramfs(busybox))
    const args = buildQemuArgs({
      accel: init.accel,
      cpus: 1,
      memoryMb: 128,
      kernel: init.kernel,
      initrd: join(dir, 'initrd.img'),
      consoleLog,
      qmpSocket: join(dir, 'qmp.sock'),
      tscKhz: hostCpuKhz(),
      net: { mode: 'none' }
    })
    const out = await open(join(dir, 'qemu.log'), 'a')
    const child = spawn(init.qemuPath, args, { detached: true, stdio: ['ignore', out.fd, out.fd] })
    await out.close()
    let ended = false
    child.once('exit', () => { ended = true })
    child.once('error', () => { ended = true })
    try {
      const deadline = Date.now() + (init.timeoutMs ?? PROBE_TIMEOUT_MS)
      while (Date.now() < deadline) {
        if ((await readTail(consoleLog, 64 * 1024)).includes(PROBE_MARKER)) return true
        if (ended) return false
        await new Promise(resolve => setTimeout(resolve, PROBE_POLL_MS))
      }
      return false
    } finally {
      if (!ended && child.pid !== undefined) {
        const gone = new Promise(resolve => child.once('exit', resolve))
        try { process.kill(-child.pid, 'SIGKILL') } catch {}
        await gone
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

function cacheFile (init: AccelProbeInit, kernelSize: number): string {
  const hash = createHash('sha256').update(`${init.qemuVersion}\0${init.kernel}\0${kernelSize}`).digest('hex').slice(0, 16)
  return join(init.cacheDir, `accel-${hash}.json`)
}

/**
 * kvm only when /dev/kvm is usable and the kernel actually boots under it (nested or
 * paravirtual KVM may not: asking QEMU whether KVM is enabled is not enough); tcg otherwise.
 * The probe's result is cached per QEMU version and kernel.
 */
export async function probeAccel (init: AccelProbeInit, components: { logger: Logger }): Promise<AccelDecision> {
  if (!await kvmUsable()) return { accel: 'tcg', detail: '/dev/kvm is not usable', cached: false }
  const size = (await stat(init.kernel)).size
  const file = cacheFile(init, size)
  try {
    const cached = JSON.parse(await readFile(file, 'utf8')) as { accel?: unknown, detail?: unknown }
    if (cached.accel === 'kvm' || cached.accel === 'tcg') return { accel: cached.accel, detail: String(cached.detail ?? ''), cached: true }
  } catch {}
  const t0 = Date.now()
  const ok = await probeBoot({ qemuPath: init.qemuPath, kernel: init.kernel, accel: 'kvm', timeoutMs: init.timeoutMs }, components)
  const decision: AccelDecision = ok
    ? { accel: 'kvm', detail: `probe boot under kvm succeeded in ${Date.now() - t0} ms`, cached: false }
    : { accel: 'tcg', detail: 'probe boot under kvm failed', cached: false }
  try {
    await mkdir(init.cacheDir, { recursive: true })
    const tmp = `${file}.${process.pid}.tmp`
    await writeFile(tmp, JSON.stringify({ accel: decision.accel, detail: decision.detail, qemuVersion: init.qemuVersion, kernel: init.kernel, kernelSize: size, probedAt: new Date().toISOString() }) + '\n')
    await rename(tmp, file)
  } catch (err) {
    components.logger.warn({ err, file }, 'could not cache the accelerator decision')
  }
  return decision
}
