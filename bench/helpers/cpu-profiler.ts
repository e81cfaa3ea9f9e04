import { writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'

/** Where the dispatch benches write main-thread CPU profiles of roost's rounds (unset: none). */
export const CPU_PROF_DIR = process.env.MESSAGING_CPU_PROF
/** `alloc`: sample allocations instead (collected objects included), one `.heapprofile` per round. */
const KIND = process.env.MESSAGING_PROF_KIND === 'alloc' ? 'alloc' : 'cpu'

/**
 * Profiles this process's main thread between `start` and `stop` (node's inspector, as
 * `--cpu-prof` does for a whole run); each `stop` writes `<dir>/<role>-<n>.cpuprofile`.
 * Only the dispatch rounds of roost are profiled, so the raw peers' work stays out of it.
 */
export interface CpuProfiler {
  start: () => Promise<void>
  stop: () => Promise<void>
}

export function createCpuProfiler (role: string, dir: string): CpuProfiler {
  const session = new Session()
  session.connect()
  let n = 0
  let running = false
  return {
    async start () {
      if (running) return
      running = true
      if (KIND === 'alloc') {
        await session.post('HeapProfiler.enable')
        await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never)
        return
      }
      await session.post('Profiler.enable')
      await session.post('Profiler.setSamplingInterval', { interval: 100 })
      await session.post('Profiler.start')
    },
    async stop () {
      if (!running) return
      running = false
      if (KIND === 'alloc') {
        const { profile } = await session.post('HeapProfiler.stopSampling')
        await writeFile(join(dir, `${role}-${++n}.heapprofile`), JSON.stringify(profile))
        return
      }
      const { profile } = await session.post('Profiler.stop')
      await writeFile(join(dir, `${role}-${++n}.cpuprofile`), JSON.stringify(profile))
    }
  }
}
