import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { ipTool } from '../../src/lab/lab-network.js'

// The failover bench's load: h2load (Debian's nghttp2-client) at a fixed rate, over HTTP/1.1.
// Why h2load and not autocannon: h2load's --rps paces each client on a timer (a request every
// 1/rps s), while autocannon's rate lets a connection send its whole second's quota at once and
// then pause, so its load arrives in bursts once a second — wrong for a timeline in 100 ms bins
// and for "the requests sent just after the kill". h2load's --log-file records every request:
// its start (wall clock, µs), its status (-1 when the stream failed) and its duration.
// What h2load lacks is a per-request timeout; it is applied to the log (a request slower than
// REQUEST_TIMEOUT_MS counts as failed, as a client with that timeout would have given up), and
// requests that never finished (h2load is stopped at a deadline) are counted from -n.

/** A request slower than this failed (the client would have given up). */
export const REQUEST_TIMEOUT_MS = 2_000

export interface LoadInit {
  /** The namespace h2load runs in. */
  netns: string
  url: string
  /** host:port to connect to instead of the URL's authority. */
  connectTo: string
  /** Requests per second across all clients. */
  rate: number
  clients: number
  /** How long the scheduled load lasts (requests = rate × seconds). */
  seconds: number
  logFile: string
  /** How long after the scheduled end h2load may go on waiting for answers before it is stopped. */
  graceMs: number
}

/** One request as h2load logged it; times in ms since the epoch. */
export interface RequestRecord {
  start: number
  /** HTTP status; -1: the stream failed (connection error). */
  status: number
  durationMs: number
}

export interface LoadResult {
  /** Scheduled requests (-n). */
  scheduled: number
  records: RequestRecord[]
  /** Scheduled requests with no log line: still unanswered when h2load was stopped, or never sent. */
  unfinished: number
  /** h2load's own summary (its last lines of stdout). */
  summary: string
}

/** Whether a logged request succeeded: 2xx within the timeout. */
export function succeeded (r: RequestRecord): boolean {
  return r.status >= 200 && r.status < 300 && r.durationMs <= REQUEST_TIMEOUT_MS
}

/** Parses h2load's --log-file (start µs, status, duration µs; tab-separated). */
export function parseH2loadLog (text: string): RequestRecord[] {
  const out: RequestRecord[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const [start, status, duration] = line.split('\t').map(Number)
    if (start === undefined || status === undefined || duration === undefined || [start, status, duration].some(n => !Number.isFinite(n))) {
      throw new Error(`unreadable h2load log line: ${JSON.stringify(line)}`)
    }
    out.push({ start: start / 1000, status, durationMs: duration / 1000 })
  }
  return out.sort((a, b) => a.start - b.start)
}

/** A running load: `done` resolves when h2load has exited (by itself or stopped at the deadline). */
export interface Load {
  startedAt: number
  done: Promise<LoadResult>
}

/** Starts h2load in `netns`; it stops by itself after rate × seconds requests, or is stopped `graceMs` after the scheduled end. */
export function startLoad (init: LoadInit): Load {
  const perClient = init.rate / init.clients
  if (!Number.isInteger(perClient)) throw new Error(`the rate ${init.rate} must be a multiple of the clients ${init.clients}`)
  const scheduled = init.rate * init.seconds
  const argv = ['netns', 'exec', init.netns, 'h2load', '--h1', '-n', String(scheduled), '-c', String(init.clients), '--rps', String(perClient),
    '--connect-to', init.connectTo, '--log-file', init.logFile, init.url]
  const startedAt = Date.now()
  const child = spawn(ipTool(), argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const deadline = setTimeout(() => { child.kill('SIGKILL') }, init.seconds * 1000 + init.graceMs)
  const done = new Promise<LoadResult>((resolve, reject) => {
    child.once('error', err => { clearTimeout(deadline); reject(err) })
    child.once('exit', (code, signal) => {
      clearTimeout(deadline)
      readFile(init.logFile, 'utf8').catch(() => '').then(text => {
        const records = parseH2loadLog(text)
        if (records.length === 0) throw new Error(`h2load (exit ${code ?? signal}) logged no request: ${stderr}${stdout.slice(-2000)}`)
        const lines = stdout.split('\n').filter(l => /^(finished in|requests:|status codes:)/.test(l))
        const how = signal === 'SIGKILL' ? 'stopped at the deadline' : `exit ${code ?? signal}`
        resolve({ scheduled, records, unfinished: Math.max(0, scheduled - records.length), summary: [how, ...lines].join('; ') })
      }).catch(reject)
    })
  })
  return { startedAt, done }
}
