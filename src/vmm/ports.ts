import { createServer } from 'node:net'

async function tryListen (host: string, port: number): Promise<number | null> {
  return await new Promise(resolve => {
    const srv = createServer()
    srv.once('error', () => { resolve(null) })
    srv.listen({ host, port, exclusive: true }, () => {
      const addr = srv.address()
      const got = typeof addr === 'object' && addr !== null ? addr.port : null
      srv.close(() => { resolve(got) })
    })
  })
}

/**
 * A free TCP port on `host` (127.0.0.1): `preferred` when it can be bound, else one the
 * kernel picks. The port is released before it is returned; the VMM binds it next, so a
 * rare race with another process is possible and shows up as a launch failure.
 */
export async function allocatePort (preferred?: number | null, host = '127.0.0.1'): Promise<number> {
  if (preferred !== undefined && preferred !== null && preferred > 0) {
    const got = await tryListen(host, preferred)
    if (got !== null) return got
  }
  const got = await tryListen(host, 0)
  if (got === null) throw new Error(`no free TCP port on ${host}`)
  return got
}
