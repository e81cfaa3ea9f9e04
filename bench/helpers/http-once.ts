import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { TLSSocket } from 'node:tls'

// One request, outside the load: the proxy bench checks each path answers what it should (status,
// body, the headers the proxy added) before it measures it, and finds the first answer of an
// autostart. node:http/https rather than fetch: fetch cannot set Host or the TLS server name.

export interface OnceRequest {
  /** Where the connection goes. */
  target: { host: string, port: number }
  /** Host header (and TLS server name). */
  hostname: string
  path: string
  tls?: { ca: string }
  timeoutMs: number
}

export interface OnceAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: string
  /** With TLS: the certificate key's curve (`P-256`). */
  certKey?: string
}

/** Sends one GET on a new connection (no keep-alive) and reads the whole answer. */
export async function httpOnce (r: OnceRequest): Promise<OnceAnswer> {
  return await new Promise((resolve, reject) => {
    const options = {
      host: r.target.host,
      port: r.target.port,
      path: r.path,
      method: 'GET',
      agent: false as const,
      headers: { host: r.hostname },
      timeout: r.timeoutMs,
      ...(r.tls === undefined ? {} : { servername: r.hostname, ca: r.tls.ca })
    }
    const req = (r.tls === undefined ? httpRequest : httpsRequest)(options, (res) => {
      const cert = r.tls === undefined ? undefined : (res.socket as TLSSocket).getPeerCertificate()
      const certKey = cert === undefined ? undefined : cert.nistCurve ?? cert.asn1Curve ?? `not EC (${cert.bits} bits)`
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => { chunks.push(c) })
      res.on('error', reject)
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1'), ...(certKey === undefined ? {} : { certKey }) })
      })
    })
    req.on('timeout', () => { req.destroy(new Error(`no answer from ${r.target.host}:${r.target.port} in ${r.timeoutMs} ms`)) })
    req.on('error', reject)
    req.end()
  })
}
