import { request } from 'node:http'
import { CHALLENGE_PATH } from './acme-rows.js'

const PROBE_TIMEOUT_MS = 2_000
const MAX_BODY = 1024

/** Where this host's router takes plain HTTP for the ACME port: a wildcard bind is probed on loopback. */
export function probeAddress (proxyAddress: string): string {
  if (proxyAddress === '0.0.0.0') return '127.0.0.1'
  if (proxyAddress === '::' || proxyAddress === '[::]') return '::1'
  return proxyAddress
}

/**
 * Asks a router for a challenge as the ACME server will (`GET /.well-known/acme-challenge/<token>`,
 * `Host: <hostname>`): true when it answers 200 with exactly the key authorization.
 */
export async function probeChallenge (target: { address: string, port: number }, challenge: { token: string, keyAuthorization: string, hostname: string }): Promise<boolean> {
  return await new Promise(resolve => {
    const req = request({ host: target.address, port: target.port, path: CHALLENGE_PATH + challenge.token, headers: { host: challenge.hostname }, timeout: PROBE_TIMEOUT_MS, agent: false }, res => {
      let body = ''
      res.setEncoding('latin1')
      res.on('data', (chunk: string) => { body += chunk; if (body.length > MAX_BODY) res.destroy() })
      res.on('end', () => { resolve(res.statusCode === 200 && body === challenge.keyAuthorization) })
      res.on('error', () => { resolve(false) })
    })
    req.on('timeout', () => { req.destroy() })
    req.on('error', () => { resolve(false) })
    req.end()
  })
}
