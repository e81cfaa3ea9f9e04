import type { CheckResult, HealthCheckSpec } from './check.js'
import { httpCheck } from './http-check.js'
import { tcpCheck } from './tcp-check.js'

/** Runs one check of either type once (the checker's default probe). Never rejects. */
export async function runCheck (spec: HealthCheckSpec): Promise<CheckResult> {
  switch (spec.type) {
    case 'tcp':
      return await tcpCheck({ host: spec.host, port: spec.port, timeoutMs: spec.timeoutMs })
    case 'http':
      return await httpCheck({
        host: spec.host,
        port: spec.port,
        timeoutMs: spec.timeoutMs,
        ...(spec.path === undefined ? {} : { path: spec.path }),
        ...(spec.method === undefined ? {} : { method: spec.method })
      })
  }
}
