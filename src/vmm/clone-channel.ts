import { connect, type Socket } from 'node:net'
import { VmmError } from '../errors/errors.js'
import { CLONE_READY, IDENTITY_OK } from './clone-guest.js'

const CONNECT_TIMEOUT_MS = 5_000
const CONNECT_RETRY_MS = 10
/** The first bytes after a restore can be lost on the way into the guest's UART: resend until acknowledged. */
const RESEND_MS = 1_000

/**
 * The host end of the identity channel: QEMU's unix socket behind the guest's ttyS1 (see
 * clone-guest.ts). One connection per VM; QEMU's socket chardev takes one client at a time.
 */
export interface IdentityChannel {
  /** Resolves when the guest says it waits for its identity (a template, before its snapshot). */
  waitReady: (timeoutMs: number) => Promise<void>
  /** Sends the identity line until the guest acknowledges it. */
  sendIdentity: (line: string, timeoutMs: number) => Promise<void>
  close: () => void
}

async function connectOnce (path: string): Promise<Socket> {
  return await new Promise((resolve, reject) => {
    const s = connect(path)
    s.once('connect', () => { s.removeAllListeners('error'); resolve(s) })
    s.once('error', reject)
  })
}

/** Connects to QEMU's identity socket (it appears when QEMU has started; retried until then). */
export async function openIdentityChannel (socketPath: string, signal?: AbortSignal): Promise<IdentityChannel> {
  const deadline = Date.now() + CONNECT_TIMEOUT_MS
  let sock: Socket
  for (;;) {
    try {
      sock = await connectOnce(socketPath)
      break
    } catch (err) {
      if (signal?.aborted === true) throw new VmmError('identity channel: the VM is gone')
      if (Date.now() > deadline) throw new VmmError(`identity channel ${socketPath}: ${(err as Error).message}`)
      await new Promise(resolve => setTimeout(resolve, CONNECT_RETRY_MS))
    }
  }
  let buf = ''
  let closed = false
  const waiters = new Set<() => void>()
  sock.setEncoding('utf8')
  sock.on('data', (chunk: string) => {
    buf = (buf + chunk).slice(-4096)
    for (const w of waiters) w()
  })
  sock.on('error', () => {})
  sock.on('close', () => { closed = true; for (const w of waiters) w() })

  /** Waits until `test(buf)` holds; `tick` runs every RESEND_MS while waiting. */
  const until = async (test: (b: string) => boolean, timeoutMs: number, what: string, tick?: () => void): Promise<void> => {
    if (test(buf)) return
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const check = (): void => {
        if (test(buf)) { done(); resolve(); return }
        if (closed) { done(); reject(new VmmError(`identity channel closed while waiting for ${what}`)) }
      }
      const done = (): void => { waiters.delete(check); clearTimeout(deadlineTimer); clearInterval(timer) }
      const deadlineTimer = setTimeout(() => { done(); reject(new VmmError(`identity channel: no ${what} within ${timeoutMs} ms`)) }, timeoutMs)
      if (tick !== undefined) timer = setInterval(tick, RESEND_MS)
      waiters.add(check)
      check()
    })
  }

  return {
    waitReady: async (timeoutMs) => { await until(b => b.includes(CLONE_READY), timeoutMs, `'${CLONE_READY}' from the guest (does the image's /init source /etc/roost/clone.sh? rebuild the image)`) },
    sendIdentity: async (line, timeoutMs) => {
      buf = ''
      const send = (): void => { if (!closed) sock.write(`\n${line}`) }
      send()
      // A garbled copy is answered with roost-identity-bad; the next copy fixes it.
      await until(b => b.includes(IDENTITY_OK), timeoutMs, 'identity acknowledgement', send)
    },
    close: () => { sock.destroy() }
  }
}
