import { isIPv4, isIPv6 } from 'node:net'
import * as pp from 'proxy-protocol-js'

/** Both ends of the client's connection as the edge router saw them. */
export interface ConnectionEnds {
  clientAddress: string
  clientPort: number
  localAddress: string
  localPort: number
}

/** `::ffff:1.2.3.4` → `1.2.3.4`, so an IPv4 client is announced as TCP4. */
export function unmapIPv4 (address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address
}

function ipv6Bytes (address: string): number[] {
  const [head = '', tail = ''] = address.split('::')
  const parts = (s: string): string[] => s === '' ? [] : s.split(':')
  let h = parts(head)
  let t = parts(tail)
  const last = t.length > 0 ? t[t.length - 1] : h[h.length - 1]
  const v4: number[] = []
  if (last !== undefined && isIPv4(last)) {
    v4.push(...last.split('.').map(Number))
    if (t.length > 0) t = t.slice(0, -1)
    else h = h.slice(0, -1)
  }
  const groups = 8 - v4.length / 2
  const middle = address.includes('::') ? new Array(groups - h.length - t.length).fill('0') as string[] : []
  const words = [...h, ...middle, ...t].map(w => parseInt(w, 16))
  return [...words.flatMap(w => [w >> 8, w & 0xff]), ...v4]
}

/**
 * The PROXY protocol header (v1 text or v2 binary) a machine receives before the client's
 * bytes, so it learns the real client address through the router.
 */
export function proxyHeader (version: 1 | 2, ends: ConnectionEnds): Buffer {
  const src = unmapIPv4(ends.clientAddress)
  const dst = unmapIPv4(ends.localAddress)
  const v4 = isIPv4(src) && isIPv4(dst)
  const v6 = !v4 && (isIPv6(src) || isIPv4(src)) && (isIPv6(dst) || isIPv4(dst))
  if (version === 1) {
    if (!v4 && !v6) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1')
    const s = v4 ? src : isIPv4(src) ? `::ffff:${src}` : src
    const d = v4 ? dst : isIPv4(dst) ? `::ffff:${dst}` : dst
    const text = new pp.V1ProxyProtocol(v4 ? pp.INETProtocol.TCP4 : pp.INETProtocol.TCP6, new pp.Peer(s, ends.clientPort), new pp.Peer(d, ends.localPort)).build()
    return Buffer.from(text, 'latin1')
  }
  const address = v4
    ? new pp.IPv4ProxyAddress(pp.IPv4Address.createFrom(src.split('.').map(Number)), ends.clientPort, pp.IPv4Address.createFrom(dst.split('.').map(Number)), ends.localPort)
    : v6
      ? new pp.IPv6ProxyAddress(pp.IPv6Address.createFrom(ipv6Bytes(isIPv4(src) ? `::ffff:${src}` : src)), ends.clientPort, pp.IPv6Address.createFrom(ipv6Bytes(isIPv4(dst) ? `::ffff:${dst}` : dst)), ends.localPort)
      : new pp.UnspecProxyAddress()
  return Buffer.from(new pp.V2ProxyProtocol(pp.Command.PROXY, pp.TransportProtocol.STREAM, address).build())
}
