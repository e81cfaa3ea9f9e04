import { createSocket, type Socket } from 'node:dgram'

/** A UDP DNS responder on 127.0.0.1 for tests: A queries for its names get their address; anything else an empty NOERROR. */
export interface DnsStub {
  port: number
  /** Points `name` at `address` (IPv4). */
  set: (name: string, address: string) => void
  /** Queries seen, as `name/type`. */
  queries: string[]
  close: () => Promise<void>
}

const TYPE_A = 1

/** Reads the question's name and type (RFC 1035 §4.1.2; queries carry no compression). */
function question (msg: Buffer): { name: string, type: number, end: number } | undefined {
  const labels: string[] = []
  let i = 12
  while (i < msg.length) {
    const len = msg[i] as number
    if (len === 0) { i++; break }
    if ((len & 0xc0) !== 0 || i + 1 + len > msg.length) return undefined
    labels.push(msg.subarray(i + 1, i + 1 + len).toString('latin1'))
    i += 1 + len
  }
  if (i + 4 > msg.length) return undefined
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(i), end: i + 4 }
}

export async function startDnsStub (): Promise<DnsStub> {
  const names = new Map<string, string>()
  const queries: string[] = []
  const socket: Socket = createSocket('udp4')
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 12) return
    const q = question(msg)
    if (q === undefined) return
    queries.push(`${q.name}/${q.type}`)
    const address = q.type === TYPE_A ? names.get(q.name) : undefined
    const header = Buffer.alloc(12)
    msg.copy(header, 0, 0, 2)
    // QR, opcode 0, AA, RD copied; RA; rcode 0 (or 3, NXDOMAIN, for names it does not know).
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | 0x0080 | (names.has(q.name) ? 0 : 3), 2)
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(address === undefined ? 0 : 1, 6)
    const parts = [header, msg.subarray(12, q.end)]
    if (address !== undefined) {
      const answer = Buffer.alloc(16)
      answer.writeUInt16BE(0xc00c, 0)
      answer.writeUInt16BE(TYPE_A, 2)
      answer.writeUInt16BE(1, 4)
      answer.writeUInt32BE(5, 6)
      answer.writeUInt16BE(4, 10)
      address.split('.').forEach((octet, k) => { answer[12 + k] = Number(octet) })
      parts.push(answer)
    }
    socket.send(Buffer.concat(parts), rinfo.port, rinfo.address)
  })
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(0, '127.0.0.1', () => { resolve() }) })
  return {
    port: socket.address().port,
    set: (name, address) => { names.set(name.toLowerCase(), address) },
    queries,
    close: async () => { await new Promise<void>(resolve => { socket.close(() => { resolve() }) }) }
  }
}
