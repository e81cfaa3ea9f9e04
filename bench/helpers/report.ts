import { cpus } from 'node:os'

let reported = 0

/** How many result lines this process has printed (the runner fails a bench that printed none). */
export function reportedLines (): number {
  return reported
}

/** Prints one result line: `{"bench":…, …fields, node, cpu}` on stdout. */
export function report (bench: string, fields: Record<string, unknown>): void {
  reported++
  const line = { bench, ...fields, node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length }
  process.stdout.write(JSON.stringify(line) + '\n')
}

export function progress (msg: string): void {
  process.stderr.write(`# ${msg}\n`)
}

export function percentile (sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i] as number
}

export function round (n: number, digits = 3): number {
  const f = Math.pow(10, digits)
  return Math.round(n * f) / f
}

export function median (values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50)
}

/** RSS of a process from /proc, in MB. */
export async function rssMbOf (pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises')
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const m = /VmRSS:\s+(\d+) kB/.exec(status)
  if (m === null) throw new Error(`no VmRSS for ${pid}`)
  return Number(m[1]) / 1024
}

/** The roost-vs-raw figures of a dispatch bench: median rates per round, their ratio, ask latency percentiles. */
export function dispatchFigures (m: { rates: number[], rawRates: number[], samples: number[], rawSamples: number[] }): Record<string, number> {
  const samples = [...m.samples].sort((a, b) => a - b)
  const rawSamples = [...m.rawSamples].sort((a, b) => a - b)
  const msgsPerSec = median(m.rates)
  const rawMsgsPerSec = median(m.rawRates)
  return {
    msgsPerSec: Math.round(msgsPerSec),
    rawMsgsPerSec: Math.round(rawMsgsPerSec),
    ratio: round(msgsPerSec / rawMsgsPerSec),
    p50Ms: round(percentile(samples, 50)),
    p99Ms: round(percentile(samples, 99)),
    rawP50Ms: round(percentile(rawSamples, 50)),
    rawP99Ms: round(percentile(rawSamples, 99)),
    askSamples: samples.length
  }
}
