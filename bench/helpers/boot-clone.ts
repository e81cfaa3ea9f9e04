import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { MachinesClient } from '../../src/api/machines/client.js'
import { SNAPSHOT_FILES } from '../../src/vmm/snapshot-template.js'
import { allocatePort } from '../../src/vmm/ports.js'
import { probeFields, timeToAnswer, until } from './boot-probe.js'
import { cmdlineOf, pidOf, rawRun, vmGone } from './raw-qemu.js'
import { median, progress, report, round, rssMbOf } from './report.js'

export interface CloneBenchInit {
  client: MachinesClient
  app: string
  /** Image digest to clone. */
  image: string
  /** Which kernel the image boots (reported). */
  kernel: string
  samples: number
  /** The cold boot of the same kernel, measured earlier in the same run: the speedup's base. */
  cold: { case: string, medianMs: number }
  /** Scratch dir of the raw runs. */
  scratch: string
}

/** The VM's resident memory split: anonymous (its own) vs file-backed (the snapshot's pages, shared by every clone). */
async function rssSplitMb (pid: number): Promise<{ anon: number, file: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN)
  return { anon: kb('RssAnon') / 1024, file: (kb('RssFile') + kb('RssShmem')) / 1024 }
}

/** The warm snapshot's state file, beside the RAM file the clone maps (`mem-path=`). */
function statePathOf (argv: string[]): string {
  const ram = /mem-path=([^,]+)/.exec(argv.join(' '))?.[1]
  if (ram === undefined) throw new Error('a clone\'s QEMU command line has no mem-path')
  return join(dirname(ram), SNAPSHOT_FILES.state)
}

/**
 * `case: qemu-clone`: machines started with `from_snapshot` (warm clones, each with its own id and
 * port). The first start builds the snapshot (reported as snapshotBuildMs, not sampled); then,
 * one sample at a time: a clone through the API (API call → guest HTTP answering), destroyed,
 * then its raw peer: the same QEMU command line (`-incoming defer`, the same kernel, initrd and
 * RAM file) started by the bench, the state loaded and the identity sent as the driver does.
 */
export async function benchQemuClone (init: CloneBenchInit): Promise<void> {
  const c = init.client
  const create = async (): ReturnType<typeof c.create> => await c.create(init.app, { config: { image: init.image, from_snapshot: true, restart: { policy: 'no' } } })
  progress(`qemu-clone (${init.kernel} kernel): first start builds the warm snapshot`)
  const first = await timeToAnswer(c, init.app, create)
  await c.destroy(init.app, first.m.id, true)
  await vmGone(pidOf(first.m))
  const times: number[] = []; const raw: number[] = []; const rss: number[] = []; const anon: number[] = []; const file: number[] = []
  for (let i = 0; i < init.samples; i++) {
    const { ms, m } = await timeToAnswer(c, init.app, create)
    if (m.boot?.mode !== 'clone') throw new Error(`machine ${m.id} did not start as a clone (${JSON.stringify(m.boot)})`)
    times.push(ms)
    const pid = pidOf(m)
    rss.push(await rssMbOf(pid))
    const split = await rssSplitMb(pid)
    anon.push(split.anon); file.push(split.file)
    const argv = await cmdlineOf(pid)
    await c.destroy(init.app, m.id, true)
    await vmGone(pid)
    const rawMs = await rawRun({ argv, dir: init.scratch, port: await allocatePort(), movedInitrd: false, start: { kind: 'clone', statePath: statePathOf(argv) } })
    raw.push(rawMs)
    progress(`qemu-clone ${i + 1}/${init.samples}: agent ${round(ms, 0)} ms, raw ${round(rawMs, 0)} ms, RSS ${round(rss[rss.length - 1] ?? 0, 0)} MB`)
  }
  await until(async () => (await c.list(init.app)).every(m => m.state === 'destroyed'), 'clones destroyed')
  const med = median(times)
  report('boot', {
    case: 'qemu-clone',
    kernel: init.kernel,
    ...probeFields,
    samples: init.samples,
    medianMs: round(med, 1),
    rawMedianMs: round(median(raw), 1),
    overhead: round(med / median(raw), 3),
    rssMb: round(median(rss), 1),
    rssAnonMb: round(median(anon), 1),
    rssFileMb: round(median(file), 1),
    snapshotBuildMs: round(first.ms, 0),
    speedupVs: init.cold.case,
    coldMedianMs: round(init.cold.medianMs, 1),
    speedup: round(init.cold.medianMs / med, 2),
    targetMs: 300,
    targetRssMb: 100
  })
}
