import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import type { CheckResult } from './doctor-check.js'
import { socketOwner } from './socket-owner.js'

/** A port the agent would bind, as its configuration says. */
export interface PlannedPort {
  /** Stable id part: `port.<id>`. */
  id: string
  /** The flag that sets it, for the fix. */
  flag: string
  proto: 'tcp' | 'udp'
  host: string
  port: number
}

/** Binds and releases `host:port`; the error code when it cannot (EADDRINUSE, EACCES, EADDRNOTAVAIL…). */
async function tryBind (p: PlannedPort): Promise<string | undefined> {
  if (p.proto === 'udp') {
    const s = createSocket(p.host.includes(':') ? 'udp6' : 'udp4')
    return await new Promise(resolve => {
      s.once('error', (err: NodeJS.ErrnoException) => { s.close(); resolve(err.code ?? err.message) })
      s.bind(p.port, p.host, () => { s.close(() => { resolve(undefined) }) })
    })
  }
  const server = createServer()
  return await new Promise(resolve => {
    server.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message) })
    server.listen({ port: p.port, host: p.host, exclusive: true }, () => { server.close(() => { resolve(undefined) }) })
  })
}

/**
 * Whether each port the agent would use is free. A port held by the agent of this data dir
 * (`agentPid`) is as it should be: the agent runs. Any other holder is named, with its pid.
 */
export async function checkPorts (ports: readonly PlannedPort[], agentPid: number | undefined): Promise<CheckResult[]> {
  const results: CheckResult[] = []
  for (const p of ports) {
    const id = `port.${p.id}`
    const title = `${p.proto} ${p.host}:${p.port} (${p.flag})`
    const data = { proto: p.proto, host: p.host, port: p.port }
    const error = await tryBind(p)
    if (error === undefined) {
      results.push({ id, title, status: 'ok', detail: 'free', data })
      continue
    }
    if (error !== 'EADDRINUSE') {
      results.push({ id, title, status: 'fail', detail: `cannot bind: ${error}`, fix: error === 'EACCES' ? `ports below 1024 need root or CAP_NET_BIND_SERVICE; or change ${p.flag}` : `check ${p.flag}: is ${p.host} an address of this host?`, data })
      continue
    }
    const owner = socketOwner(p.proto, p.port)
    if (owner !== undefined && owner.pid === agentPid) {
      results.push({ id, title, status: 'ok', detail: `in use by the agent of this data dir (pid ${owner.pid})`, data: { ...data, pid: owner.pid } })
      continue
    }
    const who = owner === undefined ? 'another process' : `${owner.command} (pid ${owner.pid})`
    results.push({ id, title, status: 'fail', detail: `in use by ${who}`, fix: `stop ${who}, or give the agent another port with ${p.flag}`, data: owner === undefined ? data : { ...data, pid: owner.pid } })
  }
  return results
}
