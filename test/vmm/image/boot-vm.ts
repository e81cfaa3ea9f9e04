import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { createCpioGz, S_IFDIR, S_IFREG, shellEnvFile } from '../../../src/vmm/image/cpio.js'
import type { ImageManifest } from '../../../src/vmm/image/manifest.js'
import { hostCpuKhz } from '../../../src/vmm/host-cpu.js'
import { buildQemuArgs } from '../../../src/vmm/qemu-args.js'
import { retry } from '../../helpers/retry.js'
import { freePort } from '../../helpers/free-port.js'

/** A QEMU microvm started by a test with a plain spawn (not the driver). */
export interface TestVm {
  pid: number
  port: number
  spawnedAt: number
  exited: Promise<{ code: number | null, signal: string | null }>
  console: () => Promise<string>
  qmp: (command: string) => Promise<unknown>
  get: (path: string) => Promise<{ status: number, body: string }>
}

/** `p`'s value, or undefined if it takes longer than `ms` (the timer does not outlive the race). */
export async function within<T> (p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([p, new Promise<undefined>(resolve => { timer = setTimeout(() => { resolve(undefined) }, ms) })])
  } finally {
    clearTimeout(timer)
  }
}


async function qmpCommand (socket: string, command: string): Promise<unknown> {
  return await new Promise((resolve, reject) => {
    const s = connect(socket)
    let buf = ''
    let stage = 0
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`qmp ${command}: no answer`)) }, 10_000)
    s.on('error', err => { clearTimeout(timer); reject(err) })
    s.on('data', d => {
      buf += d.toString()
      let nl
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>
        buf = buf.slice(nl + 1)
        if (stage === 0 && 'QMP' in msg) {
          stage = 1
          s.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n')
        } else if (stage === 1 && 'return' in msg) {
          stage = 2
          s.write(JSON.stringify({ execute: command }) + '\n')
        } else if (stage === 2 && ('return' in msg || 'error' in msg)) {
          clearTimeout(timer)
          s.end()
          if ('error' in msg) reject(new Error(`qmp ${command}: ${JSON.stringify(msg.error)}`))
          else resolve(msg.return)
        }
      }
    })
  })
}

/** Boots `image` (from `imageDir`) with its own env cpio appended; killed in teardown if still running. */
export async function bootImage (t: ExecutionContext, image: ImageManifest, imageDir: string, workDir: string, env: Record<string, string>): Promise<TestVm> {
  const port = await freePort()
  const envCpio = createCpioGz([
    { path: 'etc', mode: S_IFDIR | 0o755 },
    { path: 'etc/roost', mode: S_IFDIR | 0o755 },
    { path: 'etc/roost/env', mode: S_IFREG | 0o644, data: Buffer.from(shellEnvFile({ PORT: '8080', ROOST_IP: '10.0.2.15/24', ROOST_GW: '10.0.2.2', ...env })) }
  ])
  const initrd = join(workDir, 'initrd.img')
  await writeFile(initrd, Buffer.concat([await readFile(join(imageDir, image.initrd)), envCpio]))
  const consoleLog = join(workDir, 'console.log')
  const qmpSocket = join(workDir, 'qmp.sock')
  const spawnedAt = Date.now()
  const args = buildQemuArgs({
    accel: 'tcg',
    cpus: 1,
    memoryMb: 128,
    kernel: join(imageDir, image.kernel),
    initrd,
    consoleLog,
    qmpSocket,
    tscKhz: hostCpuKhz(),
    net: { mode: 'user', hostPort: port, guestPort: 8080 },
    ...(image.kernelKind === undefined ? {} : { kernelKind: image.kernelKind })
  })
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  let running = true
  const exited = new Promise<{ code: number | null, signal: string | null }>(resolve => {
    child.once('exit', (code, signal) => {
      running = false
      if (stderr.trim() !== '') t.log(`qemu stderr: ${stderr.trim()}`)
      resolve({ code, signal })
    })
  })
  t.teardown(async () => {
    if (running && child.pid !== undefined) process.kill(child.pid, 'SIGKILL')
    await exited
  })
  if (child.pid === undefined) throw new Error('qemu did not start')
  return {
    pid: child.pid,
    port,
    spawnedAt,
    exited,
    console: async () => await readFile(consoleLog, 'utf8').catch(() => ''),
    qmp: async (command) => await retry(async () => await qmpCommand(qmpSocket, command) ?? true, { timeoutMs: 10_000, what: `qmp ${command}` }),
    get: async (path) => {
      // slirp accepts a forwarded connection before the guest listens: bound every attempt.
      const r = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000) })
      return { status: r.status, body: await r.text() }
    }
  }
}
