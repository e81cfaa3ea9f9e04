import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ApiExtension } from '../api/machines/api-extension.js'
import type { AgentMetrics } from './agent-metrics.js'

export const METRICS_PATH = '/metrics'

export interface MetricsEndpointInit {
  /** Serve `/metrics` without the API token (`--metrics-public`). */
  public: boolean
}

export interface MetricsEndpointComponents {
  metrics: Pick<AgentMetrics, 'text' | 'contentType'>
}

/** `GET /metrics` on the agent's API listener: the Prometheus text format, behind the token unless public. */
export function metricsEndpoint (init: MetricsEndpointInit, components: MetricsEndpointComponents): ApiExtension {
  return {
    name: 'metrics',
    async handle (req: IncomingMessage, res: ServerResponse, ctx) {
      if (ctx.url.pathname !== METRICS_PATH) return false
      if (!init.public) ctx.requireToken()
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'x-request-id': ctx.reqId })
        res.end('only GET and HEAD are allowed on /metrics\n')
        return true
      }
      const body = await components.metrics.text()
      res.writeHead(200, { 'content-type': components.metrics.contentType, 'content-length': String(Buffer.byteLength(body)), 'cache-control': 'no-store', 'x-request-id': ctx.reqId })
      res.end(req.method === 'HEAD' ? undefined : body)
      return true
    }
  }
}
