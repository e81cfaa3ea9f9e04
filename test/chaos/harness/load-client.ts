// The chaos suite's HTTP load, run inside a lab host's namespace (the test process cannot enter
// one): `node --import tsx load-client.ts '<json LoadSpec>'`. Requests go out at a fixed rate
// (open loop: a slow answer does not hold back the next request), alternately on a keep-alive
// connection and on a new one. It stops sending when its stdin ends (or after `maxMs`), waits
// for the requests in flight, and prints one JSON LoadReport on stdout. While running it
// rewrites `statusFile` with its counts twice a second.
import { writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'

/** What to load: `http://<address>:<port><path>` with `Host: <host>`. */
export interface LoadSpec {
  address: string
  port: number
  host: string
  path: string
  rateHz: number
  /** A request not answered within this counts as failed. */
  timeoutMs: number
  /** Stops by itself after this, whether or not stdin ended. */
  maxMs: number
  statusFile: string
}

/** One failed request: when it was sent (ms since the load began), how long it took, why. */
export interface LoadFailure { at: number, ms: number, why: string, keepAlive: boolean }

export interface LoadReport {
  /** Unix ms at which the first request was sent. */
  startedAt: number
  durationMs: number
  sent: number
  ok: number
  failed: number
  /** At most the first 200 failures. */
  failures: LoadFailure[]
  /** Answers per machine (from the router-echo body). */
  byMachine: Record<string, number>
  /** Per second since the start: [ok, failed]. */
  perSecond: Array<[number, number]>
  maxMs: number
  p99Ms: number
}

const MAX_FAILURES_KEPT = 200
const MAX_IN_FLIGHT = 1_000

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec
const keepAlive = new Agent({ keepAlive: true, maxSockets: 16 })
const startedAt = Date.now()
const periodMs = 1000 / spec.rateHz
let sent = 0
let ok = 0
let failed = 0
let inFlight = 0
const failures: LoadFailure[] = []
const byMachine: Record<string, number> = {}
const perSecond: Array<[number, number]> = []
const durations: number[] = []
let stopping = false

function count (at: number, good: boolean): void {
  const s = Math.floor(at / 1000)
  while (perSecond.length <= s) perSecond.push([0, 0])
  const bin = perSecond[s] as [number, number]
  bin[good ? 0 : 1]++
}

function finish (at: number, ms: number, why: string | null, reused: boolean): void {
  inFlight--
  durations.push(ms)
  count(at, why === null)
  if (why === null) { ok++; return }
  failed++
  if (failures.length < MAX_FAILURES_KEPT) failures.push({ at, ms, why, keepAlive: reused })
}

function fire (): void {
  const at = Date.now() - startedAt
  const reused = sent % 2 === 0
  sent++
  inFlight++
  const t0 = Date.now()
  let done = false
  const end = (why: string | null): void => { if (!done) { done = true; finish(at, Date.now() - t0, why, reused) } }
  const req = request({
    host: spec.address,
    port: spec.port,
    path: spec.path,
    headers: { host: spec.host, ...(reused ? {} : { connection: 'close' }) },
    agent: reused ? keepAlive : false,
    timeout: spec.timeoutMs
  }, res => {
    const chunks: Buffer[] = []
    res.on('data', (b: Buffer) => chunks.push(b))
    res.on('error', err => { end(`response: ${err.message}`) })
    res.on('end', () => {
      if (res.statusCode !== 200) { end(`HTTP ${res.statusCode ?? '?'} ${String(res.headers['roost-error'] ?? '')}`.trim()); return }
      try {
        const machine = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { machine?: unknown }).machine
        byMachine[String(machine)] = (byMachine[String(machine)] ?? 0) + 1
        end(null)
      } catch {
        end('unreadable body')
      }
    })
  })
  const deadline = setTimeout(() => { req.destroy(new Error(`no answer within ${spec.timeoutMs} ms`)) }, spec.timeoutMs)
  req.on('timeout', () => { req.destroy(new Error(`idle for ${spec.timeoutMs} ms`)) })
  req.on('error', err => { end(err.message) })
  req.on('close', () => { clearTimeout(deadline); end('closed without an answer') })
  req.end()
}

function status (): void {
  writeFileSync(spec.statusFile, JSON.stringify({ at: Date.now(), sent, ok, failed, inFlight }))
}

async function run (): Promise<void> {
  const statusTimer = setInterval(status, 500)
  const stopAt = startedAt + spec.maxMs
  for (let i = 0; !stopping && Date.now() < stopAt; i++) {
    const due = startedAt + i * periodMs
    const wait = due - Date.now()
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    if (stopping) break
    if (inFlight >= MAX_IN_FLIGHT) { failed++; sent++; count(Date.now() - startedAt, false); continue }
    fire()
  }
  while (inFlight > 0) await new Promise(resolve => setTimeout(resolve, 20))
  clearInterval(statusTimer)
  status()
  keepAlive.destroy()
  durations.sort((a, b) => a - b)
  const report: LoadReport = {
    startedAt,
    durationMs: Date.now() - startedAt,
    sent,
    ok,
    failed,
    failures,
    byMachine,
    perSecond,
    maxMs: durations.at(-1) ?? 0,
    p99Ms: durations[Math.floor(durations.length * 0.99)] ?? 0
  }
  process.stdout.write(JSON.stringify(report) + '\n')
}

process.stdin.on('end', () => { stopping = true })
process.stdin.on('error', () => { stopping = true })
process.stdin.resume()
run().catch((err: unknown) => { process.stderr.write(`load failed: ${String(err)}\n`); process.exit(1) })
