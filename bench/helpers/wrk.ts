import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

// wrk (Debian's 4.1) as the proxy bench's one load generator. Every run gets the same Lua
// script: it points wrk at a given address whatever the URL's host (so the URL's host is the
// app's name, sent as Host and as the TLS server name, with no DNS or /etc/hosts), and prints
// the summary as one JSON line. It defines no request()/response(), so wrk keeps its static
// request and does not parse responses: the script costs nothing per request.

const SCRIPT = `local target_host, target_port = os.getenv("WRK_TARGET_HOST"), os.getenv("WRK_TARGET_PORT")
function wrk.resolve(host, service)
  wrk.addrs = wrk.lookup(target_host, target_port)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n{"requests":%d,"bytes":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    summary.requests, summary.bytes, summary.duration, latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.status, e.timeout))
end
`

/** One wrk run: where to, how hard, and where wrk itself runs. */
export interface WrkRun {
  /** `http(s)://<name>:<port>/<path>`: the name is the Host header and the TLS server name. */
  url: string
  /** Where the connections go (an IP; brackets not needed for IPv6). */
  target: { host: string, port: number }
  connections: number
  durationSec: number
  /** wrk threads (default 1). */
  threads?: number
  /** Extra request headers (`Name: value`). */
  headers?: string[]
  /** Run pinned to this CPU (`taskset -c`). */
  cpu?: number
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string
  /** wrk's per-request timeout in seconds (default 5). */
  timeoutSec?: number
}

export interface WrkErrors {
  connect: number
  read: number
  write: number
  /** Responses with a status above 399. */
  status: number
  timeout: number
}

export interface WrkResult {
  requests: number
  bytes: number
  durationSec: number
  reqPerSec: number
  /** Response bytes (heads included) per second, in MB (10^6). */
  mbPerSec: number
  p50Ms: number
  p99Ms: number
  errors: WrkErrors
}

/** Writes the Lua script into `dir`; returns its path (give it to every {@link runWrk}). */
export async function writeWrkScript (dir: string): Promise<string> {
  const file = join(dir, 'bench-wrk.lua')
  await writeFile(file, SCRIPT)
  return file
}

/** The total of a result's errors. */
export function errorCount (e: WrkErrors): number {
  return e.connect + e.read + e.write + e.status + e.timeout
}

/** Runs wrk once; rejects when it fails or prints no summary. */
export async function runWrk (script: string, r: WrkRun): Promise<WrkResult> {
  const wrk = ['wrk', '-t', String(r.threads ?? 1), '-c', String(r.connections), '-d', `${r.durationSec}s`,
    '--timeout', `${r.timeoutSec ?? 5}s`, '-s', script, ...(r.headers ?? []).flatMap(h => ['-H', h]), r.url]
  const pinned = r.cpu === undefined ? wrk : ['taskset', '-c', String(r.cpu), ...wrk]
  const argv = r.netns === undefined ? pinned : ['ip', 'netns', 'exec', r.netns, ...pinned]
  const env = { ...process.env, WRK_TARGET_HOST: r.target.host, WRK_TARGET_PORT: String(r.target.port) }
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(argv[0] as string, argv.slice(1), { env, timeout: (r.durationSec + 30) * 1000, maxBuffer: 1 << 20 }, (err, out, errOut) => {
      if (err !== null) reject(new Error(`wrk failed (${argv.join(' ')}): ${err.message}\n${errOut}`))
      else resolve(out)
    })
  })
  const line = stdout.split('\n').reverse().find(l => l.startsWith('{"requests"'))
  if (line === undefined) throw new Error(`wrk printed no summary (${argv.join(' ')}):\n${stdout}`)
  const s = JSON.parse(line) as { requests: number, bytes: number, durationUs: number, p50Us: number, p99Us: number } & WrkErrors
  const durationSec = s.durationUs / 1e6
  return {
    requests: s.requests,
    bytes: s.bytes,
    durationSec,
    reqPerSec: s.requests / durationSec,
    mbPerSec: s.bytes / durationSec / 1e6,
    p50Ms: s.p50Us / 1000,
    p99Ms: s.p99Us / 1000,
    errors: { connect: s.connect, read: s.read, write: s.write, status: s.status, timeout: s.timeout }
  }
}
