import { readFile } from 'node:fs/promises'
import type { MachinesClient } from '../../src/api/machines/client.js'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { median, progress, report, round, rssMbOf } from './report.js'

const POLL_MS = 5
const TIMEOUT_MS = 300_000

export interface CloneBenchInit {
  client: MachinesClient
  app: string
  /** Image digest to clone. */
  image: string
  /** Which kernel the image boots (reported). */
  kernel: string
  samples: number
  /** The guest answers on this host port (the bench's own probe). */
  answers: (port: number) => Promise<boolean>
  probe: string
  /** The Debian-kernel qemu-cold median measured earlier in the same run (the peer). */
  qemuColdMedianMs: number
}

async function until<T> (fn: () => Promise<T | false | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + TIMEOUT_MS
  for (;;) {
    const v = await fn()
    if (v !== false && v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`)
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
  }
}

/** API create → started → guest HTTP answering, for a machine started from the warm snapshot. */
async function cloneOnce (init: CloneBenchInit): Promise<{ ms: number, m: MachineView }> {
  const c = init.client
  const t0 = performance.now()
  const first = await c.create(init.app, { config: { image: init.image, from_snapshot: true, restart: { policy: 'no' } } })
  const m = await until(async () => { const v = await c.get(init.app, first.id); if (v.state === 'failed') throw new Error(`clone failed: ${v.events[0]?.message ?? ''}`); return v.state === 'started' && v.endpoint !== null && v }, `${first.id} started`)
  await until(async () => await init.answers(m.endpoint?.port ?? 0), `${first.id} HTTP`)
  return { ms: performance.now() - t0, m }
}

function pidOf (m: MachineView): number {
  return Number(/pid (\d+)/.exec(m.events.find(e => e.type === 'launch')?.message ?? '')?.[1] ?? NaN)
}

/** The VM's resident memory split: anonymous (its own) vs file-backed (the snapshot's pages, shared by every clone). */
async function rssSplitMb (pid: number): Promise<{ anon: number, file: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN)
  return { anon: kb('RssAnon') / 1024, file: (kb('RssFile') + kb('RssShmem')) / 1024 }
}

/**
 * `case: qemu-clone`: machines started with `from_snapshot` (warm clones, each with its own id and
 * port). The first start builds the snapshot (reported as snapshotBuildMs, not sampled); then
 * `samples` clones are timed one by one, API call to guest HTTP answering.
 */
export async function benchQemuClone (init: CloneBenchInit): Promise<void> {
  const c = init.client
  progress(`qemu-clone (${init.kernel} kernel): first start builds the warm snapshot`)
  const first = await cloneOnce(init)
  await c.destroy(init.app, first.m.id, true)
  const times: number[] = []; const rss: number[] = []; const anon: number[] = []; const file: number[] = []
  for (let i = 0; i < init.samples; i++) {
    const { ms, m } = await cloneOnce(init)
    if (m.boot?.mode !== 'clone') throw new Error(`machine ${m.id} did not start as a clone (${JSON.stringify(m.boot)})`)
    times.push(ms)
    const pid = pidOf(m)
    rss.push(await rssMbOf(pid))
    const split = await rssSplitMb(pid)
    anon.push(split.anon); file.push(split.file)
    await c.destroy(init.app, m.id, true)
    progress(`qemu-clone ${i + 1}/${init.samples}: ${round(ms, 0)} ms, RSS ${round(rss[rss.length - 1] ?? 0, 0)} MB`)
  }
  await until(async () => (await c.list(init.app)).every(m => m.state === 'destroyed'), 'clones destroyed')
  const med = median(times)
  report('boot', {
    case: 'qemu-clone',
    kernel: init.kernel,
    probe: init.probe,
    samples: init.samples,
    medianMs: round(med, 1),
    rssMb: round(median(rss), 1),
    rssAnonMb: round(median(anon), 1),
    rssFileMb: round(median(file), 1),
    snapshotBuildMs: round(first.ms, 0),
    qemuColdMedianMs: round(init.qemuColdMedianMs, 1),
    speedup: round(init.qemuColdMedianMs / med, 2),
    targetMs: 300,
    targetRssMb: 100
  })
}
