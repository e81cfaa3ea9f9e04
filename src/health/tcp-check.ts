import { connect } from 'node:net'
import { elapsedMs, errorOutput, type CheckResult } from './check.js'

/** Options of {@link tcpCheck}. */
export interface TcpCheckOptions {
  host: string
  port: number
  timeoutMs: number
}

/** Connects to `host:port`; passing when the connection is accepted within `timeoutMs`. Never rejects. */
export async function tcpCheck (opts: TcpCheckOptions): Promise<CheckResult> {
  const started = performance.now()
  return await new Promise<CheckResult>(resolve => {
    let done = false
    const socket = connect({ host: opts.host, port: opts.port })
    const finish = (result: CheckResult): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => {
      finish({ status: 'critical', output: `connect to ${opts.host}:${opts.port} timed out after ${opts.timeoutMs} ms` })
    }, opts.timeoutMs)
    socket.once('connect', () => {
      finish({ status: 'passing', output: `connected to ${opts.host}:${opts.port} after ${elapsedMs(started)} ms` })
    })
    socket.once('error', (err) => {
      finish({ status: 'critical', output: errorOutput(err) })
    })
  })
}
