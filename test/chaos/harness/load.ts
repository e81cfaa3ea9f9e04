import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { labPath } from '../../../src/lab/lab-exec.js'
import { ipTool } from '../../../src/lab/lab-network.js'
import type { LabHost } from '../../../src/lab/lab.js'
import { retry } from '../../helpers/retry.js'
import type { LoadReport, LoadSpec } from './load-client.js'

export type { LoadReport } from './load-client.js'

const CLIENT = fileURLToPath(new URL('./load-client.ts', import.meta.url))
const DEFAULT_RATE_HZ = 100
const DEFAULT_TIMEOUT_MS = 10_000
/** A backstop: the load ends by itself after this even if the test never stops it. */
const DEFAULT_MAX_MS = 10 * 60_000

/** The load's counts so far (from its status file). */
export interface LoadStatus { at: number, sent: number, ok: number, failed: number, inFlight: number }

/** A fixed-rate HTTP load running in a lab host's namespace against that host's router. */
export interface Load {
  readonly pid: number
  status: () => Promise<LoadStatus | null>
  /** Stops sending, waits for what is in flight, and returns the report (idempotent). */
  stop: () => Promise<LoadReport>
  /** Kills the client by pid (clean-up after a failure); idempotent. */
  kill: () => void
}

/**
 * Starts test/chaos/harness/load-client.ts inside `h`'s namespace, sending `GET /` with `Host:
 * <app host>` to `h`'s own router on `port`, and resolves once the first answer came back.
 */
export async function startLoad (h: LabHost, dir: string, target: { host: string, port: number, rateHz?: number, timeoutMs?: number }): Promise<Load> {
  const statusFile = join(dir, `load-${h.name}-${Date.now()}.json`)
  const spec: LoadSpec = {
    address: h.address,
    port: target.port,
    host: target.host,
    path: '/',
    rateHz: target.rateHz ?? DEFAULT_RATE_HZ,
    timeoutMs: target.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    maxMs: DEFAULT_MAX_MS,
    statusFile
  }
  const child = spawn(ipTool(), ['netns', 'exec', h.netns, process.execPath, '--import', 'tsx', CLIENT, JSON.stringify(spec)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PATH: labPath() }
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString('utf8') })
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8') })
  child.stdin.on('error', () => {})
  const exited = new Promise<number | null>(resolve => { child.once('exit', code => { resolve(code) }) })
  let report: Promise<LoadReport> | undefined
  const status = async (): Promise<LoadStatus | null> => {
    try { return JSON.parse(await readFile(statusFile, 'utf8')) as LoadStatus } catch { return null }
  }
  const load: Load = {
    pid: child.pid ?? -1,
    status,
    async stop () {
      report ??= (async () => {
        child.stdin.end()
        const code = await exited
        const line = stdout.trim().split('\n').at(-1) ?? ''
        if (code !== 0 || line === '') throw new Error(`the load client exited with ${String(code)}: ${stderr.slice(-2000)}`)
        return JSON.parse(line) as LoadReport
      })()
      return await report
    },
    kill () {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  }
  try {
    await retry(async () => {
      if (child.exitCode !== null) throw new Error(`the load client exited: ${stderr.slice(-2000)}`)
      return ((await status())?.ok ?? 0) > 0
    }, { timeoutMs: 30_000, intervalMs: 100, what: `the load through ${h.name}'s router getting its first answer` })
  } catch (err) {
    load.kill()
    throw err
  }
  return load
}

/** Share of the requests sent that were answered (1 when none were sent). */
export function answeredShare (r: LoadReport): number {
  return r.sent === 0 ? 1 : r.ok / r.sent
}

/** One line about a load report, with its first failures. */
export function describeLoad (r: LoadReport): string {
  const pct = (answeredShare(r) * 100).toFixed(3)
  const first = r.failures.slice(0, 8).map(f => `${(f.at / 1000).toFixed(2)}s ${f.why} (${f.ms} ms${f.keepAlive ? ', keep-alive' : ''})`).join('; ')
  return `${r.ok}/${r.sent} answered (${pct} %) over ${(r.durationMs / 1000).toFixed(1)} s, p99 ${r.p99Ms} ms, max ${r.maxMs} ms, by machine ${JSON.stringify(r.byMachine)}${r.failed > 0 ? `; first failures: ${first}` : ''}`
}
