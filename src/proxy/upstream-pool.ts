import type { OnReadOpts, Socket } from 'node:net'

/** Who currently uses an upstream connection: an HTTP exchange, or the pool while it idles. */
export interface UpstreamOwner {
  onUpstreamData: (up: UpstreamConn, chunk: Buffer) => void
  onUpstreamEnd: (up: UpstreamConn) => void
  onUpstreamError: (up: UpstreamConn, err: Error) => void
  onUpstreamDrain: (up: UpstreamConn) => void
  /** Whether bytes of an earlier read may still be queued for writing (so its buffer cannot be reused). */
  holdsReadBytes: () => boolean
}

const READ_BUFFER_BYTES = 64 * 1024

/**
 * Reads a machine connection into a reused buffer (net's `onread`) instead of a fresh 64 KiB
 * allocation per read. An owner consumes each chunk before the next read — writes it on, or
 * copies what it keeps (a partial response head) — and a new buffer is taken only while bytes
 * of the previous one may still be queued on the owner's client.
 */
export interface UpstreamReader {
  readonly onread: OnReadOpts
  attach: (up: UpstreamConn) => void
}

export function createUpstreamReader (): UpstreamReader {
  let conn: UpstreamConn | null = null
  let buf = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
  return {
    onread: {
      buffer: () => {
        if (conn?.owner?.holdsReadBytes() === true) buf = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES)
        return buf
      },
      callback: (n: number, chunk: Uint8Array) => {
        if (conn === null) return true
        conn.owner?.onUpstreamData(conn, (chunk as Buffer).subarray(0, n))
        return true
      }
    },
    attach: (up) => { conn = up }
  }
}

/**
 * A connection to a machine (direct or through a backhaul) with its event handlers bound once:
 * events go to whoever owns it now, so lending it from the pool to an exchange and back costs
 * no listener changes.
 */
export class UpstreamConn {
  owner: UpstreamOwner | null = null
  idleSince = 0
  closed = false
  /** Requests sent on this connection (0: never used, so a failure cannot be a stale keep-alive). */
  uses = 0

  constructor (readonly socket: Socket, readonly key: string, readonly machine: string, reader?: UpstreamReader) {
    if (reader === undefined) socket.on('data', (chunk: Buffer) => { this.owner?.onUpstreamData(this, chunk) })
    else reader.attach(this)
    socket.on('end', () => { this.closed = true; this.owner?.onUpstreamEnd(this) })
    socket.on('error', (err: Error) => { this.closed = true; this.owner?.onUpstreamError(this, err) })
    socket.on('close', () => {
      if (this.closed) return
      this.closed = true
      this.owner?.onUpstreamEnd(this)
    })
    socket.on('drain', () => { this.owner?.onUpstreamDrain(this) })
    // A backhaul paused the socket while it read its status byte; from here on it flows.
    socket.resume()
  }

  destroy (): void {
    this.closed = true
    this.owner = null
    this.socket.destroy()
  }
}

export interface UpstreamPoolInit {
  /** Idle connections kept per machine and port. */
  maxIdlePerKey: number
  idleTimeoutMs: number
}

/** Idle keep-alive connections to machines, per machine and port, newest first out. */
export interface UpstreamPool {
  take: (key: string) => UpstreamConn | undefined
  give: (up: UpstreamConn, now: number) => void
  /** Closes connections idle for longer than the timeout. */
  sweep: (now: number) => void
  /** Closes every idle connection to a machine (it stopped or moved). */
  dropMachine: (machine: string) => void
  idle: () => number
  close: () => void
}

export function createUpstreamPool (init: UpstreamPoolInit): UpstreamPool {
  const idle = new Map<string, UpstreamConn[]>()
  let count = 0
  const remove = (up: UpstreamConn): void => {
    const list = idle.get(up.key)
    if (list === undefined) return
    const i = list.indexOf(up)
    if (i >= 0) { list.splice(i, 1); count-- }
    if (list.length === 0) idle.delete(up.key)
  }
  const idleOwner: UpstreamOwner = {
    onUpstreamData: (up) => { remove(up); up.destroy() },
    onUpstreamEnd: (up) => { remove(up); up.destroy() },
    onUpstreamError: (up) => { remove(up); up.destroy() },
    onUpstreamDrain: () => {},
    holdsReadBytes: () => false
  }
  return {
    take (key) {
      const list = idle.get(key)
      while (list !== undefined && list.length > 0) {
        const up = list.pop() as UpstreamConn
        count--
        if (list.length === 0) idle.delete(key)
        if (!up.closed && !up.socket.destroyed) {
          up.owner = null
          return up
        }
      }
      return undefined
    },
    give (up, now) {
      if (up.closed || up.socket.destroyed) { up.destroy(); return }
      let list = idle.get(up.key)
      if (list === undefined) { list = []; idle.set(up.key, list) }
      if (list.length >= init.maxIdlePerKey) { up.destroy(); return }
      up.owner = idleOwner
      up.idleSince = now
      list.push(up)
      count++
    },
    sweep (now) {
      for (const list of [...idle.values()]) {
        for (const up of [...list]) if (now - up.idleSince > init.idleTimeoutMs) { remove(up); up.destroy() }
      }
    },
    dropMachine (machine) {
      for (const list of [...idle.values()]) {
        for (const up of [...list]) if (up.machine === machine) { remove(up); up.destroy() }
      }
    },
    idle: () => count,
    close () {
      for (const list of idle.values()) for (const up of list) up.destroy()
      idle.clear()
      count = 0
    }
  }
}
