import { request } from 'node:http'
import { elapsedMs, errorOutput, type CheckResult } from './check.js'

/** Options of {@link httpCheck}. */
export interface HttpCheckOptions {
  host: string
  port: number
  /** `/` unless given. */
  path?: string
  /** `GET` unless given. */
  method?: 'GET' | 'HEAD'
  /** Bounds the whole exchange: connect, request, status line. */
  timeoutMs: number
}

/**
 * Sends one request on a fresh connection; passing on a 2xx or 3xx status within `timeoutMs`.
 * The body is discarded. Never rejects.
 */
export async function httpCheck (opts: HttpCheckOptions): Promise<CheckResult> {
  const started = performance.now()
  const method = opts.method ?? 'GET'
  return await new Promise<CheckResult>(resolve => {
    let done = false
    const req = request({
      host: opts.host,
      port: opts.port,
      path: opts.path ?? '/',
      method,
      agent: false,
      headers: { connection: 'close', 'user-agent': 'roost-health' }
    })
    const finish = (result: CheckResult): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      req.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => {
      finish({ status: 'critical', output: `${method} http://${opts.host}:${opts.port}${opts.path ?? '/'} timed out after ${opts.timeoutMs} ms` })
    }, opts.timeoutMs)
    req.once('response', (res) => {
      const code = res.statusCode ?? 0
      res.resume()
      finish({ status: code >= 200 && code < 400 ? 'passing' : 'critical', output: `HTTP ${code} after ${elapsedMs(started)} ms` })
    })
    req.once('error', (err) => {
      finish({ status: 'critical', output: errorOutput(err) })
    })
    req.end()
  })
}
