import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** `st` of a listening TCP socket and of a bound UDP socket in /proc/net/{tcp,udp}[6]. */
const TCP_LISTEN = '0A'
const UDP_BOUND = '07'

/** The process holding a socket: its pid and command name. */
export interface SocketOwner {
  pid: number
  command: string
}

function inodesOn (proto: 'tcp' | 'udp', port: number): Set<string> {
  const inodes = new Set<string>()
  const want = proto === 'tcp' ? TCP_LISTEN : UDP_BOUND
  for (const file of [`/proc/net/${proto}`, `/proc/net/${proto}6`]) {
    let text: string
    try { text = readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      const local = f[1]
      if (local === undefined || f[3] !== want) continue
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && f[9] !== undefined) inodes.add(f[9])
    }
  }
  return inodes
}

/**
 * Which process listens on (tcp) or is bound to (udp) `port`, read from /proc; undefined when
 * none is found (or it belongs to a process this user cannot look into).
 */
export function socketOwner (proto: 'tcp' | 'udp', port: number): SocketOwner | undefined {
  const inodes = inodesOn(proto, port)
  if (inodes.size === 0) return undefined
  const targets = new Set([...inodes].map(i => `socket:[${i}]`))
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let fds: string[]
    try { fds = readdirSync(`/proc/${entry}/fd`) } catch { continue }
    for (const fd of fds) {
      let link: string
      try { link = readlinkSync(`/proc/${entry}/fd/${fd}`) } catch { continue }
      if (!targets.has(link)) continue
      let command = '?'
      try { command = readFileSync(`/proc/${entry}/comm`, 'utf8').trim() } catch {}
      return { pid: Number(entry), command }
    }
  }
  return undefined
}
