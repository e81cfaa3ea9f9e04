import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** Ports below the kernel's ephemeral range: no outgoing connection of another test takes one as its source port. */
function quietRange (): [number, number] {
  let low = 32768
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    if (Number.isInteger(first) && first > 12_000) low = first
  } catch {}
  return [low - 10_000, low - 1]
}

async function bindable (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => { resolve(false) })
    s.listen(port, '127.0.0.1', () => { s.close(() => { resolve(true) }) })
  })
}

/**
 * A TCP port on 127.0.0.1 that nothing holds now (bound and released), for a test to listen on
 * shortly. Picked at random below the ephemeral range: a port the kernel hands out for listen(0)
 * or as an outgoing connection's source port in another test can be taken again before the
 * caller listens (a test once failed with EADDRINUSE that way).
 */
export async function freePort (): Promise<number> {
  const [from, to] = quietRange()
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = from + Math.floor(Math.random() * (to - from + 1))
    if (await bindable(port)) return port
  }
  throw new Error(`no free port in ${from}–${to} after 100 tries`)
}
