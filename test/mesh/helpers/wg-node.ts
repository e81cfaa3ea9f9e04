// One WireguardInterface in a child process (run under `ip netns exec NS`, so wireguard-go's
// UDP socket is in that namespace), driven by JSON lines: requests on stdin, replies and events
// on stdout. Closing stdin stops the interface and exits.
import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { createServer, connect, type Server } from 'node:net'
import { createInterface } from 'node:readline'
import { silentLogger } from '../../../src/log/logger.js'
import { createWireguardInterface, type WireguardInterface } from '../../../src/mesh/wireguard-interface.js'

type Request = { id: number, op: string, [k: string]: unknown }

let iface: WireguardInterface | undefined
const servers: Server[] = []
const held: UdpSocket[] = []
const send = (msg: Record<string, unknown>): void => { process.stdout.write(JSON.stringify(msg) + '\n') }

async function echo (host: string, port: number, text: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const s = connect({ host, port })
    s.setTimeout(2000, () => { s.destroy(new Error('echo timed out')) })
    s.on('connect', () => { s.end(text) })
    s.on('data', c => chunks.push(c))
    s.on('end', () => { resolve(Buffer.concat(chunks).toString()) })
    s.on('error', reject)
  })
}

async function handle (req: Request): Promise<unknown> {
  switch (req.op) {
    case 'create':
      iface = createWireguardInterface(req.init as Parameters<typeof createWireguardInterface>[0], { logger: silentLogger() })
      for (const event of ['exit', 'restart', 'error'] as const) {
        iface.on(event, info => { send({ event, info: { ...info, err: info.err instanceof Error ? info.err.message : info.err } }) })
      }
      return null
    case 'start': await iface!.start(); return null
    case 'stop': await iface!.stop(); return null
    case 'setPeers': await iface!.setPeers(req.peers as Parameters<WireguardInterface['setPeers']>[0]); return null
    case 'status': return await iface!.status()
    case 'info': return { pid: iface!.pid() ?? null, restarts: iface!.restarts(), listenPort: iface!.listenPort(), handshakeRetries: iface!.handshakeRetries() }
    case 'listen': {
      const server = createServer(s => { s.pipe(s) })
      servers.push(server)
      await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(req.port as number, req.host as string, resolve) })
      return null
    }
    case 'killAndHoldUdp': {
      // Kill wireguard-go and take its UDP port as soon as the kernel frees it (before a respawn can).
      process.kill(req.pid as number, 'SIGKILL')
      const deadline = Date.now() + 5000
      for (;;) {
        const sock = createSocket('udp4')
        const bound = await new Promise<boolean>(resolve => {
          sock.once('error', () => { sock.close(); resolve(false) })
          sock.bind(req.port as number, () => { resolve(true) })
        })
        if (bound) { held.push(sock); return null }
        if (Date.now() > deadline) throw new Error(`port ${req.port} not freed`)
        await new Promise(resolve => setTimeout(resolve, 2))
      }
    }
    case 'releaseUdp':
      for (const sock of held.splice(0)) sock.close()
      return null
    case 'echo': return await echo(req.host as string, req.port as number, req.text as string)
    default: throw new Error(`unknown op ${req.op}`)
  }
}

createInterface({ input: process.stdin }).on('line', line => {
  const req = JSON.parse(line) as Request
  handle(req).then(
    result => { send({ id: req.id, ok: true, result }) },
    (err: unknown) => { send({ id: req.id, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), code: (err as { code?: unknown }).code }) }
  )
}).on('close', () => {
  for (const s of servers) s.close()
  for (const s of held) s.close()
  void (iface?.stop() ?? Promise.resolve()).finally(() => { process.exit(0) })
})
