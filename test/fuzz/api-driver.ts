import { Agent, request } from 'node:http'
import type { ApiRequest } from './arbitraries/api-requests.js'

/** How one request ended: a status (a typed answer), a close by the server (a refusal), or neither in time. */
export interface ApiOutcome {
  delivered: boolean
  status: number | undefined
  /** The answer of an error status had the API's `{error, code}` body. */
  typed: boolean
  closed: boolean
}

/** Sends Machines API requests over a few kept-alive connections. */
export interface ApiDriver {
  send: (req: ApiRequest, timeoutMs: number) => Promise<ApiOutcome>
  close: () => void
}

export function createApiDriver (baseUrl: string): ApiDriver {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 })
  const url = new URL(baseUrl)
  const send = async (req: ApiRequest, timeoutMs: number): Promise<ApiOutcome> => await new Promise(resolve => {
    const out: ApiOutcome = { delivered: false, status: undefined, typed: false, closed: false }
    let settled = false
    const finish = (): void => { if (!settled) { settled = true; clearTimeout(timer); resolve(out) } }
    const r = request({ agent, host: url.hostname, port: url.port, method: req.method, path: req.path, headers: { ...req.headers, ...(req.body === undefined ? {} : { 'content-length': String(req.body.byteLength) }) } }, (res) => {
      out.status = res.statusCode
      out.delivered = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => { if (chunks.length < 64) chunks.push(c) })
      res.on('end', () => {
        if ((out.status ?? 0) >= 400) {
          try { out.typed = typeof (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { code?: unknown }).code === 'string' } catch {}
        } else out.typed = true
        finish()
      })
      res.on('error', () => { finish() })
    })
    const timer = setTimeout(() => { r.destroy(); finish() }, timeoutMs)
    r.on('error', () => { out.closed = true; finish() })
    r.on('finish', () => { out.delivered = true })
    r.end(req.body)
  })
  return { send, close: () => { agent.destroy() } }
}
