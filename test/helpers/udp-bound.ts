import { readFile } from 'node:fs/promises'

/**
 * The IPv4 addresses UDP sockets of this machine are bound to on `port`, read from
 * /proc/net/udp (Linux): what the kernel says, not what the program thinks it asked for.
 */
export async function udpBoundAddresses (port: number): Promise<string[]> {
  const table = await readFile('/proc/net/udp', 'utf8')
  const out: string[] = []
  for (const line of table.split('\n').slice(1)) {
    const local = line.trim().split(/\s+/)[1]
    if (local === undefined) continue
    const [hexIp, hexPort] = local.split(':') as [string, string]
    if (parseInt(hexPort, 16) !== port) continue
    // Little-endian on the machines roost runs on: 0100007F is 127.0.0.1.
    const bytes = (hexIp.match(/../g) ?? []).map(b => parseInt(b, 16)).reverse()
    out.push(bytes.join('.'))
  }
  return out
}
