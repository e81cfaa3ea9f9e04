import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { exited } from '../../src/cli/local-cluster.js'

// HAProxy (Debian's 2.6) as the proxy bench's peer: one process, `nbthread` threads, pinned to
// the proxy's CPU, one frontend per roost port under test, all to the same backend as roost's
// machine. In mode http it adds the headers roost adds (client address and port, X-Forwarded-*,
// Via, a request id and the region, on the request and the request id/region/Via on the
// response) so both do comparable work per request.

/** One HAProxy frontend. */
export interface HaproxyFrontend {
  name: string
  bind: { host: string, port: number }
  mode: 'http' | 'tcp'
  /** `ssl crt <file>`: TLS terminated with this PEM (certificate + key). */
  tlsPem?: string
  /** The backend server (roost's machine endpoint). */
  server: { host: string, port: number }
}

export interface HaproxyInit {
  dir: string
  threads: number
  cpu: number
  frontends: HaproxyFrontend[]
}

export interface Haproxy {
  pid: number
  version: string
  stop: () => Promise<void>
}

/** `2.6.12-1+deb12u4` from `haproxy -v`. */
export function haproxyVersion (): string {
  const out = execFileSync('haproxy', ['-v'], { encoding: 'utf8' })
  return /version (\S+)/.exec(out)?.[1] ?? 'unknown'
}

const addr = (h: { host: string, port: number }): string => h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`

function httpRules (tls: boolean): string[] {
  return [
    'option forwardfor',
    `http-request set-header X-Forwarded-Proto ${tls ? 'https' : 'http'}`,
    'http-request set-header X-Forwarded-Port %[dst_port]',
    `http-request set-header X-Forwarded-Ssl ${tls ? 'on' : 'off'}`,
    'http-request set-header Roost-Client-Ip %[src]',
    'http-request set-header Roost-Client-Port %[src_port]',
    'http-request set-header Roost-Forwarded-Port %[dst_port]',
    'http-request set-header Roost-Region local',
    'http-request set-header Via "1.1 haproxy"',
    'unique-id-format %{+X}o%Ts%rt-local',
    'unique-id-header Roost-Request-Id',
    'http-response set-header Roost-Request-Id %[unique-id]',
    'http-response set-header Roost-Region local',
    'http-response set-header Via "1.1 haproxy"'
  ]
}

/** The configuration text. */
export function haproxyConfig (init: HaproxyInit): string {
  const lines = [
    'global',
    `  nbthread ${init.threads}`,
    '  maxconn 4096',
    'defaults',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 30s'
  ]
  for (const f of init.frontends) {
    const tls = f.tlsPem === undefined ? '' : ` ssl crt ${f.tlsPem} alpn http/1.1`
    lines.push(`frontend ${f.name}`, `  mode ${f.mode}`, `  bind ${addr(f.bind)}${tls}`)
    if (f.mode === 'http') lines.push(...httpRules(f.tlsPem !== undefined).map(l => `  ${l}`))
    lines.push(`  default_backend ${f.name}-be`, `backend ${f.name}-be`, `  mode ${f.mode}`, `  server machine ${addr(f.server)}`)
  }
  return lines.join('\n') + '\n'
}

async function accepts (host: string, port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const s = connect({ host, port })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

/** Starts HAProxy in the foreground (`-db`), pinned; resolves once every frontend accepts. */
export async function startHaproxy (init: HaproxyInit): Promise<Haproxy> {
  const cfg = join(init.dir, 'haproxy.cfg')
  await writeFile(cfg, haproxyConfig(init))
  execFileSync('haproxy', ['-c', '-q', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  const child: ChildProcess = spawn('taskset', ['-c', String(init.cpu), 'haproxy', '-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  const deadline = Date.now() + 10_000
  for (const f of init.frontends) {
    while (!await accepts(f.bind.host, f.bind.port)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new Error(`haproxy did not start (frontend ${f.name} on ${addr(f.bind)}): ${stderr}`)
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
  return {
    pid: child.pid as number,
    version: haproxyVersion(),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited(child, 5_000)
    }
  }
}
