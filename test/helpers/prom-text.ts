import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** One sample line of the Prometheus text format. */
export interface PromSample { name: string, labels: Record<string, string>, value: number }

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

/** Parses exposition text (format 0.0.4) into samples; comment lines are skipped, a bad line throws. */
export function parsePromText (text: string): PromSample[] {
  const out: PromSample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => c === 'n' ? '\n' : c)
    const raw = m[3] as string
    out.push({ name: m[1] as string, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) })
  }
  return out
}

/** The sum of a metric's samples whose labels include `where`. */
export function sumOf (samples: PromSample[], name: string, where: Record<string, string> = {}): number {
  let n = 0
  for (const s of samples) {
    if (s.name !== name) continue
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) n += s.value
  }
  return n
}

/** Where an agent's API listens and its token, from its data dir. */
export async function agentApi (dataDir: string): Promise<{ url: string, token: string }> {
  const info = JSON.parse(await readFile(join(dataDir, 'agent.json'), 'utf8')) as { api: string }
  return { url: info.api, token: (await readFile(join(dataDir, 'api.token'), 'utf8')).trim() }
}

/** GET /metrics of an agent; with `token`, as the API's bearer. */
export async function scrape (dataDir: string, opts: { token?: boolean } = {}): Promise<{ status: number, text: string, contentType: string | null }> {
  const { url, token } = await agentApi(dataDir)
  const res = await fetch(`${url}/metrics`, { headers: opts.token === false ? {} : { authorization: `Bearer ${token}` } })
  return { status: res.status, text: await res.text(), contentType: res.headers.get('content-type') }
}

/** The samples of a scrape that answered 200. */
export async function scrapeSamples (dataDir: string): Promise<PromSample[]> {
  const r = await scrape(dataDir)
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.text}`)
  return parsePromText(r.text)
}
