import { spawn, type ChildProcess } from 'node:child_process'
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createMachinesClient, type MachinesClient } from '../src/api/machines/client.js'
import type { MachineConfig, MachineView } from '../src/api/machines/schemas.js'
import { exited, localImagesDir, startLocalCluster, type LocalHost } from '../src/cli/local-cluster.js'
import { silentLogger } from '../src/log/logger.js'
import { buildImage, type BuildProgress, type BuiltImage } from '../src/vmm/image/build.js'
import { missingKernelBuildTools } from '../src/vmm/image/kernel-build.js'
import { allocatePort } from '../src/vmm/ports.js'
import { connectQmp } from '../src/vmm/qmp-client.js'
import { qemuAvailable } from '../src/vmm/qemu-driver.js'
import { median, progress, report, round, rssMbOf } from './helpers/report.js'
import { benchQemuClone } from './helpers/boot-clone.js'

const BIN = fileURLToPath(new URL('../bin/roost.js', import.meta.url))
const APP_DIR = fileURLToPath(new URL('../test/fixtures/apps/counter', import.meta.url))
const SAMPLES = Number(process.env.BENCH_BOOT_SAMPLES ?? 5)
const CREATE_BATCH = Number(process.env.BENCH_CREATE_BATCH ?? 10)
const POLL_MS = 5
const BOOT_TIMEOUT_MS = 90_000
const APP = 'bench'
const PROBE_PATH = process.env.BENCH_BOOT_PATH ?? '/ping.txt'

/** The guest app answers: a static file from its HTTP server (no CGI fork in the measurement). */
async function answers (port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${PROBE_PATH}`, { signal: AbortSignal.timeout(500) })
    await res.arrayBuffer()
    return res.status === 200
  } catch {
    return false
  }
}

const PROBE_EVERY_MS = 20
const PROBE_TIMEOUT_MS = 1_000
const PROBES_IN_FLIGHT = 16

/**
 * Resolves when the guest app first answers. Probes overlap (a new one every 20 ms): slirp
 * accepts a forwarded connection before the guest listens, and such a probe hangs until its
 * timeout, so waiting for each in turn would round every boot up to that timeout.
 */
async function firstAnswer (port: number): Promise<void> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS
  let inFlight = 0
  let answered = false
  let done: () => void = () => {}
  const answer = new Promise<void>((resolve) => { done = resolve })
  const probe = (): void => {
    inFlight++
    fetch(`http://127.0.0.1:${port}${PROBE_PATH}`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
      .then(async (res) => { await res.arrayBuffer(); if (res.status === 200 && !answered) { answered = true; done() } })
      .catch(() => {})
      .finally(() => { inFlight-- })
  }
  while (!answered) {
    if (Date.now() > deadline) throw new Error(`timed out: HTTP on port ${port}`)
    if (inFlight < PROBES_IN_FLIGHT) probe()
    await Promise.race([answer, new Promise(resolve => setTimeout(resolve, PROBE_EVERY_MS))])
  }
}

async function until<T> (fn: () => Promise<T | false | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS
  for (;;) {
    const v = await fn()
    if (v !== false && v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

/** API call → machine started with an endpoint → guest HTTP answering; ms. */
async function timeToAnswer (c: MachinesClient, call: () => Promise<MachineView>): Promise<{ ms: number, m: MachineView }> {
  const t0 = performance.now()
  const first = await call()
  const m = await until(async () => { const v = await c.get(APP, first.id); return v.state === 'started' && v.endpoint !== null && v }, `${first.id} started`)
  await firstAnswer(m.endpoint?.port ?? 0)
  return { ms: performance.now() - t0, m }
}

function pidOf (m: MachineView): number {
  const launch = m.events.find(e => e.type === 'launch')?.message ?? ''
  return Number(/pid (\d+)/.exec(launch)?.[1] ?? NaN)
}

async function cmdlineOf (pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(s => s.length > 0)
}

/** The agent's own qemu argv, moved to a scratch dir and another host port: what "a plain script" would run. */
function rawArgs (argv: string[], dir: string, port: number, incoming?: string): string[] {
  const out = argv.slice(1).map(a => a
    .replace(/hostfwd=tcp:127\.0\.0\.1:\d+-/, `hostfwd=tcp:127.0.0.1:${port}-`)
    .replace(/path=[^,]*console\.log/, `path=${join(dir, 'console.log')}`)
    .replace(/unix:[^,]*qmp\.sock/, `unix:${join(dir, 'qmp.sock')}`)
    .replace(/path=[^,]*\/id\.sock/, `path=${join(dir, 'id.sock')}`)
    .replace(/^.*\/initrd\.img$/, join(dir, 'initrd.img'))
  )
  const i = out.indexOf('-incoming')
  if (i >= 0) out.splice(i, 2)
  if (incoming !== undefined) out.push('-incoming', `exec:cat ${incoming}`)
  return out
}

async function rawRun (qemu: string, args: string[], dir: string, resume: boolean): Promise<{ ms: number, child: ChildProcess }> {
  const port = Number(/hostfwd=tcp:127\.0\.0\.1:(\d+)-/.exec(args.join(' '))?.[1])
  const t0 = performance.now()
  const child = spawn(qemu, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const phases: Record<string, number> = {}
  if (resume) {
    const qmp = await until(async () => await connectQmp({ socketPath: join(dir, 'qmp.sock') }, { logger: silentLogger() }).catch(() => undefined), 'raw QMP')
    phases.qmp = performance.now() - t0
    await until(async () => { const s = await qmp.execute('query-status') as { status: string }; return s.status !== 'inmigrate' }, 'raw incoming migration')
    phases.loaded = performance.now() - t0
    await qmp.execute('cont')
    qmp.close()
  }
  await firstAnswer(port).catch((err: Error) => { throw new Error(`raw qemu: ${err.message}; its stderr: ${stderr.trim() || '(empty)'}; args: ${args.join(' ')}`) })
  const ms = performance.now() - t0
  if (resume) progress(`  raw resume phases: QMP up ${Math.round(phases.qmp ?? 0)} ms, state loaded ${Math.round(phases.loaded ?? 0)} ms, HTTP ${Math.round(ms)} ms`)
  return { ms, child }
}

async function stopRaw (child: ChildProcess): Promise<void> {
  child.kill('SIGKILL')
  await exited(child, 5_000)
}

/** Kernel build steps on stderr (a step per line, compile progress every 10 %). */
function minimalKernelProgress (): (p: BuildProgress) => void {
  let last = ''
  return (p) => {
    const pct = p.step === 'kernel-compile' && p.done !== undefined && p.total !== undefined ? ` ${Math.floor((p.done / p.total) * 10) * 10}%` : ''
    const line = `${p.step}${pct}`
    if (p.step.startsWith('kernel-') && line !== last) progress(`  ${line}: ${p.detail}`)
    last = line
  }
}

export async function run (): Promise<void> {
  const q = await qemuAvailable()
  if (!q.ok) throw new Error('bench boot needs qemu-system-x86_64 (apt-get install qemu-system-x86)')
  const dir = await mkdtemp(join(tmpdir(), 'roost-bench-boot-'))
  progress('building the counter image (Debian cloud kernel)')
  const image = await buildImage({ appDir: APP_DIR, imagesDir: localImagesDir(dir), name: 'counter', kernel: 'distribution' }, { logger: silentLogger() })
  let minImage: BuiltImage | undefined
  const missing = await missingKernelBuildTools()
  if (missing.length === 0) {
    progress('building the counter image (minimal kernel; the first build on a machine compiles it, ~4–12 min)')
    minImage = await buildImage({ appDir: APP_DIR, imagesDir: localImagesDir(dir), name: 'counter-min', kernel: 'minimal', onProgress: minimalKernelProgress() }, { logger: silentLogger() })
  } else {
    progress(`no minimal kernel: missing ${missing.join(', ')}`)
  }
  progress(`starting an agent (qemu driver) in ${dir}`)
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 1, dir, logLevel: 'warn', agentArgs: ['--driver', 'qemu'] })
  const raws: ChildProcess[] = []
  try {
    const h1 = cluster.hosts[0] as LocalHost
    const info = JSON.parse(await readFile(join(h1.dataDir, 'agent.json'), 'utf8')) as { api: string }
    const c = createMachinesClient({ url: info.api, token: (await readFile(join(h1.dataDir, 'api.token'), 'utf8')).trim() })
    const config: MachineConfig = { image: image.digest, restart: { policy: 'no' } }
    const scratch = join(dir, 'raw')
    await (await import('node:fs/promises')).mkdir(scratch, { recursive: true })

    const coldRun = async (label: string, imageRef: string): Promise<{ cold: number[], raw: number[], rss: number[], argv: string[] }> => {
      const out = { cold: [] as number[], raw: [] as number[], rss: [] as number[], argv: [] as string[] }
      for (let i = 0; i < SAMPLES; i++) {
        const { ms, m } = await timeToAnswer(c, async () => await c.create(APP, { config: { ...config, image: imageRef } }))
        out.cold.push(ms)
        const pid = pidOf(m)
        out.rss.push(await rssMbOf(pid))
        out.argv = await cmdlineOf(pid)
        await copyFile(join(h1.dataDir, 'machines', m.id, 'initrd.img'), join(scratch, 'initrd.img'))
        await c.destroy(APP, m.id, true)
        await until(async () => (await c.list(APP)).length === 0, 'destroyed')
        const raw = await rawRun(out.argv[0] as string, rawArgs(out.argv, scratch, await allocatePort()), scratch, false)
        out.raw.push(raw.ms)
        await stopRaw(raw.child)
        progress(`${label} ${i + 1}/${SAMPLES}: agent ${round(ms, 0)} ms, raw ${round(raw.ms, 0)} ms`)
      }
      return out
    }

    const dist = await coldRun('qemu-cold', image.digest)
    const argv = dist.argv
    const accel = argv.includes('kvm') ? 'kvm' : 'tcg'
    report('boot', { case: 'qemu-cold', probe: PROBE_PATH, samples: SAMPLES, medianMs: round(median(dist.cold), 1), rawMedianMs: round(median(dist.raw), 1), overhead: round(median(dist.cold) / median(dist.raw), 3), rssMb: round(median(dist.rss), 1), kernel: 'distribution', accel })

    if (minImage === undefined) {
      progress('qemu-cold-min skipped: the minimal kernel cannot be built here')
    } else {
      const min = await coldRun('qemu-cold-min', minImage.digest)
      report('boot', {
        case: 'qemu-cold-min',
        probe: PROBE_PATH,
        samples: SAMPLES,
        medianMs: round(median(min.cold), 1),
        rawMedianMs: round(median(min.raw), 1),
        rssMb: round(median(min.rss), 1),
        qemuColdMedianMs: round(median(dist.cold), 1),
        speedup: round(median(dist.cold) / median(min.cold), 2),
        kernel: 'minimal-pvh',
        kernelVersion: minImage.kernelVersion,
        targetMs: accel === 'kvm' ? 125 : 800,
        accel
      })
    }

    const res: number[] = []; const resRaw: number[] = []; const resRss: number[] = []
    const m = await timeToAnswer(c, async () => await c.create(APP, { config })).then(r => r.m)
    for (let i = 0; i < SAMPLES; i++) {
      await c.action(APP, m.id, 'suspend')
      await until(async () => (await c.get(APP, m.id)).state === 'suspended', 'suspended')
      const snap = join(scratch, 'snapshot.bin')
      await copyFile(join(h1.dataDir, 'machines', m.id, 'snapshot.bin'), snap)
      await copyFile(join(h1.dataDir, 'machines', m.id, 'initrd.img'), join(scratch, 'initrd.img'))
      const { ms, m: v } = await timeToAnswer(c, async () => await c.action(APP, m.id, 'start'))
      res.push(ms)
      resRss.push(await rssMbOf(pidOf(v)))
      const rawArgv = rawArgs(await cmdlineOf(pidOf(v)), scratch, await allocatePort(), snap)
      const raw = await rawRun(argv[0] as string, rawArgv, scratch, true)
      resRaw.push(raw.ms)
      await stopRaw(raw.child)
      progress(`qemu-resume ${i + 1}/${SAMPLES}: agent ${round(ms, 0)} ms, raw ${round(raw.ms, 0)} ms`)
    }
    await c.destroy(APP, m.id, true)
    report('boot', { case: 'qemu-resume', probe: PROBE_PATH, samples: SAMPLES, medianMs: round(median(res), 1), rawMedianMs: round(median(resRaw), 1), overhead: round(median(res) / median(resRaw), 3), rssMb: round(median(resRss), 1), targetMs: 400 })

    // Warm clones (bench/helpers/boot-clone.ts), per image kernel, against the Debian-kernel cold boot.
    for (const [kernel, img] of [['distribution', image], ['minimal-pvh', minImage]] as const) {
      if (img !== undefined) await benchQemuClone({ client: c, app: APP, image: img.digest, kernel, samples: SAMPLES, answers, probe: PROBE_PATH, qemuColdMedianMs: median(dist.cold) })
    }

    const proc: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      const { ms, m: pm } = await timeToAnswer(c, async () => await c.create(APP, { config: { ...config, driver: 'process' } }))
      proc.push(ms)
      await c.destroy(APP, pm.id, true)
    }
    await until(async () => (await c.list(APP)).length === 0, 'destroyed')
    report('boot', { case: 'process', probe: PROBE_PATH, samples: SAMPLES, medianMs: round(median(proc), 1) })

    progress(`creating ${CREATE_BATCH} qemu machines at once`)
    const t0 = performance.now()
    const batch = await Promise.all(Array.from({ length: CREATE_BATCH }, async () => await c.create(APP, { config })))
    const createdMs = performance.now() - t0
    await Promise.all(batch.map(async b => {
      const v = await until(async () => { const x = await c.get(APP, b.id); return x.state === 'started' && x.endpoint !== null && x }, 'batch started')
      await until(async () => await answers(v.endpoint?.port ?? 0), 'batch HTTP')
    }))
    const allMs = performance.now() - t0
    report('boot', { case: 'create-batch', machines: CREATE_BATCH, createPerSec: round(CREATE_BATCH / (createdMs / 1000), 1), allAnsweringMs: round(allMs, 0) })
    await Promise.all(batch.map(async b => await c.destroy(APP, b.id, true)))
    await until(async () => (await c.list(APP)).length === 0, 'batch destroyed')
  } finally {
    for (const r of raws) r.kill('SIGKILL')
    await cluster.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
