import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { cpus } from 'node:os'

// The proxy bench's CPU split, as in the calibration (docs: platform facts): the proxy under test
// alone on one core, the load generator and the backend on the other.

/** The two cores: BENCH_PROXY_CPU (default 1) and BENCH_LOAD_CPU (default 0). */
export function benchCpus (): { proxy: number, load: number } {
  const proxy = Number(process.env.BENCH_PROXY_CPU ?? 1)
  const load = Number(process.env.BENCH_LOAD_CPU ?? 0)
  const n = cpus().length
  if (n < 2) throw new Error(`bench proxy needs 2 CPUs (the proxy on one, wrk and the backend on the other); this machine has ${n}`)
  if (proxy === load || ![proxy, load].every(c => Number.isInteger(c) && c >= 0 && c < n)) throw new Error(`BENCH_PROXY_CPU (${proxy}) and BENCH_LOAD_CPU (${load}) must be two different CPUs of 0..${n - 1}`)
  return { proxy, load }
}

/** Pins every thread of `pid` (`taskset -a -p`); threads it starts later inherit the mask. */
export function pinProcess (pid: number, cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' })
}

/** The CPU lists of a process's threads (each `Cpus_allowed_list`), deduplicated. */
export function affinityOf (pid: number): string[] {
  const lists = new Set<string>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
    lists.add(/Cpus_allowed_list:\s+(\S+)/.exec(status)?.[1] ?? '?')
  }
  return [...lists]
}

/** Pins `pid` and checks every thread took it. */
export function pinChecked (pid: number, cpu: number, what: string): void {
  pinProcess(pid, cpu)
  const lists = affinityOf(pid)
  if (lists.length !== 1 || lists[0] !== String(cpu)) throw new Error(`${what} (pid ${pid}) is not pinned to CPU ${cpu}: its threads allow ${lists.join(' / ')}`)
}

/** How many threads a process has. */
export function threadCount (pid: number): number {
  return readdirSync(`/proc/${pid}/task`).length
}

/** SIGKILLs `pid` if it is still a process named `comm` (never anything else that took its pid). */
export async function endIfStill (pid: number, comm: string): Promise<void> {
  const name = await readFile(`/proc/${pid}/comm`, 'utf8').then(s => s.trim(), () => null)
  if (name === comm) process.kill(pid, 'SIGKILL')
}
