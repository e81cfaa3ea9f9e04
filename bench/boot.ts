import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createMachinesClient } from '../src/api/machines/client.js'
import type { MachineConfig } from '../src/api/machines/schemas.js'
import { localImagesDir, startLocalCluster, type LocalHost } from '../src/cli/local-cluster.js'
import { silentLogger } from '../src/log/logger.js'
import { buildImage, type BuildProgress } from '../src/vmm/image/build.js'
import { allocatePort } from '../src/vmm/ports.js'
import { qemuAvailable } from '../src/vmm/qemu-driver.js'
import { benchQemuClone } from './helpers/boot-clone.js'
import { firstAnswer, probeFields, timeToAnswer, until } from './helpers/boot-probe.js'
import { cmdlineOf, pidOf, rawRun, vmGone } from './helpers/raw-qemu.js'
import { median, progress, report, round, rssMbOf } from './helpers/report.js'

const BIN = fileURLToPath(new URL('../bin/roost.js', import.meta.url))
const APP_DIR = fileURLToPath(new URL('../test/fixtures/apps/counter', import.meta.url))
const SAMPLES = Number(process.env.BENCH_BOOT_SAMPLES ?? 5)
const CREATE_BATCH = Number(process.env.BENCH_CREATE_BATCH ?? 10)
const APP = 'bench'

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

/**
 * One agent (qemu driver), the counter app. Every case is timed with the one probe of
 * helpers/boot-probe.ts, and every VM runs alone: the agent's is stopped before its raw peer (the
 * same QEMU command line, helpers/raw-qemu.ts) starts, and the raw one before the next sample.
 */
export async function run (): Promise<void> {
  const q = await qemuAvailable()
  if (!q.ok) throw new Error('bench boot needs qemu-system-x86_64 (apt-get install qemu-system-x86)')
  const dir = await mkdtemp(join(tmpdir(), 'roost-bench-boot-'))
  try {
    await measure(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function measure (dir: string): Promise<void> {
  progress('building the counter image (Debian cloud kernel)')
  const image = await buildImage({ appDir: APP_DIR, imagesDir: localImagesDir(dir), name: 'counter', kernel: 'distribution' }, { logger: silentLogger() })
  progress('building the counter image (minimal kernel; the first build on a machine compiles it, ~4–12 min)')
  const minImage = await buildImage({ appDir: APP_DIR, imagesDir: localImagesDir(dir), name: 'counter-min', kernel: 'minimal', onProgress: minimalKernelProgress() }, { logger: silentLogger() })
    .catch((err: Error) => { throw new Error(`bench boot needs roost's minimal guest kernel (cached, or built now): ${err.message}`) })
  progress(`starting an agent (qemu driver) in ${dir}`)
  const cluster = await startLocalCluster({ binPath: BIN, hosts: 1, dir, logLevel: 'warn', agentArgs: ['--driver', 'qemu'] })
  try {
    const h1 = cluster.hosts[0] as LocalHost
    const info = JSON.parse(await readFile(join(h1.dataDir, 'agent.json'), 'utf8')) as { api: string }
    const c = createMachinesClient({ url: info.api, token: (await readFile(join(h1.dataDir, 'api.token'), 'utf8')).trim() })
    const config: MachineConfig = { image: image.digest, restart: { policy: 'no' } }
    const scratch = join(dir, 'raw')
    await mkdir(scratch, { recursive: true })
    const machineFile = (id: string, file: string): string => join(h1.dataDir, 'machines', id, file)

    const coldRun = async (label: string, imageRef: string): Promise<{ firstMs: number, cold: number[], raw: number[], rss: number[], argv: string[] }> => {
      // The agent's first boot of a kernel also probes the accelerator (up to 8 s): reported, not sampled.
      const first = await timeToAnswer(c, APP, async () => await c.create(APP, { config: { ...config, image: imageRef } }))
      await c.destroy(APP, first.m.id, true)
      await vmGone(pidOf(first.m))
      progress(`${label}: first boot (accelerator probe included) ${round(first.ms, 0)} ms`)
      const out = { firstMs: first.ms, cold: [] as number[], raw: [] as number[], rss: [] as number[], argv: [] as string[] }
      for (let i = 0; i < SAMPLES; i++) {
        const { ms, m } = await timeToAnswer(c, APP, async () => await c.create(APP, { config: { ...config, image: imageRef } }))
        out.cold.push(ms)
        const pid = pidOf(m)
        out.rss.push(await rssMbOf(pid))
        out.argv = await cmdlineOf(pid)
        await copyFile(machineFile(m.id, 'initrd.img'), join(scratch, 'initrd.img'))
        await c.destroy(APP, m.id, true)
        await vmGone(pid)
        const raw = await rawRun({ argv: out.argv, dir: scratch, port: await allocatePort(), movedInitrd: true, start: { kind: 'cold' } })
        out.raw.push(raw)
        progress(`${label} ${i + 1}/${SAMPLES}: agent ${round(ms, 0)} ms, raw ${round(raw, 0)} ms`)
      }
      await until(async () => (await c.list(APP)).length === 0, 'destroyed')
      return out
    }

    const dist = await coldRun('qemu-cold', image.digest)
    const accel = dist.argv.includes('kvm') ? 'kvm' : 'tcg'
    report('boot', { case: 'qemu-cold', ...probeFields, samples: SAMPLES, medianMs: round(median(dist.cold), 1), rawMedianMs: round(median(dist.raw), 1), overhead: round(median(dist.cold) / median(dist.raw), 3), rssMb: round(median(dist.rss), 1), firstBootMs: round(dist.firstMs, 0), kernel: 'distribution', accel })

    const min = await coldRun('qemu-cold-min', minImage.digest)
    report('boot', {
      case: 'qemu-cold-min',
      ...probeFields,
      samples: SAMPLES,
      medianMs: round(median(min.cold), 1),
      rawMedianMs: round(median(min.raw), 1),
      overhead: round(median(min.cold) / median(min.raw), 3),
      rssMb: round(median(min.rss), 1),
      firstBootMs: round(min.firstMs, 0),
      qemuColdMedianMs: round(median(dist.cold), 1),
      speedupVsDistributionKernel: round(median(dist.cold) / median(min.cold), 2),
      kernel: 'minimal-pvh',
      kernelVersion: minImage.kernelVersion,
      targetMs: accel === 'kvm' ? 125 : 800,
      accel
    })

    // qemu-resume, one VM at a time: the agent resumes its machine from a suspend snapshot (a copy
    // of which is kept), the machine is suspended again (its QEMU exits), then the raw peer resumes
    // the copy with the same command line.
    const res: number[] = []; const resRaw: number[] = []; const resRss: number[] = []
    const { m } = await timeToAnswer(c, APP, async () => await c.create(APP, { config }))
    const suspend = async (pid: number): Promise<void> => {
      await c.action(APP, m.id, 'suspend')
      await until(async () => (await c.get(APP, m.id)).state === 'suspended', 'suspended')
      await vmGone(pid)
    }
    await suspend(pidOf(m))
    const snap = join(scratch, 'snapshot.bin')
    for (let i = 0; i < SAMPLES; i++) {
      await copyFile(machineFile(m.id, 'snapshot.bin'), snap)
      await copyFile(machineFile(m.id, 'initrd.img'), join(scratch, 'initrd.img'))
      const { ms, m: v } = await timeToAnswer(c, APP, async () => await c.action(APP, m.id, 'start'))
      res.push(ms)
      const pid = pidOf(v)
      resRss.push(await rssMbOf(pid))
      const argv = await cmdlineOf(pid)
      await suspend(pid)
      const raw = await rawRun({ argv, dir: scratch, port: await allocatePort(), movedInitrd: true, start: { kind: 'resume', snapshot: snap } })
      resRaw.push(raw)
      progress(`qemu-resume ${i + 1}/${SAMPLES}: agent ${round(ms, 0)} ms, raw ${round(raw, 0)} ms`)
    }
    await c.destroy(APP, m.id, true)
    await until(async () => (await c.list(APP)).length === 0, 'destroyed')
    report('boot', { case: 'qemu-resume', ...probeFields, samples: SAMPLES, medianMs: round(median(res), 1), rawMedianMs: round(median(resRaw), 1), overhead: round(median(res) / median(resRaw), 3), rssMb: round(median(resRss), 1), targetMs: 400 })

    // Warm clones (helpers/boot-clone.ts), each against the cold boot of the same kernel.
    await benchQemuClone({ client: c, app: APP, image: minImage.digest, kernel: 'minimal-pvh', samples: SAMPLES, cold: { case: 'qemu-cold-min', medianMs: median(min.cold) }, scratch })
    await benchQemuClone({ client: c, app: APP, image: image.digest, kernel: 'distribution', samples: SAMPLES, cold: { case: 'qemu-cold', medianMs: median(dist.cold) }, scratch })

    const proc: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      const { ms, m: pm } = await timeToAnswer(c, APP, async () => await c.create(APP, { config: { ...config, driver: 'process' } }))
      proc.push(ms)
      await c.destroy(APP, pm.id, true)
    }
    await until(async () => (await c.list(APP)).length === 0, 'destroyed')
    report('boot', { case: 'process', ...probeFields, samples: SAMPLES, medianMs: round(median(proc), 1) })

    progress(`creating ${CREATE_BATCH} qemu machines at once`)
    const t0 = performance.now()
    const batch = await Promise.all(Array.from({ length: CREATE_BATCH }, async () => await c.create(APP, { config })))
    const createdMs = performance.now() - t0
    await Promise.all(batch.map(async b => {
      const v = await until(async () => { const x = await c.get(APP, b.id); return x.state === 'started' && x.endpoint !== null && x }, 'batch started')
      await firstAnswer(v.endpoint?.port ?? 0)
    }))
    const allMs = performance.now() - t0
    report('boot', { case: 'create-batch', ...probeFields, machines: CREATE_BATCH, createPerSec: round(CREATE_BATCH / (createdMs / 1000), 1), allAnsweringMs: round(allMs, 0) })
    await Promise.all(batch.map(async b => await c.destroy(APP, b.id, true)))
    await until(async () => (await c.list(APP)).length === 0, 'batch destroyed')
  } finally {
    await cluster.stop()
  }
}
