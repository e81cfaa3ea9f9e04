import { connect, type OnReadOpts, type Socket } from 'node:net'
import type { ByteMeter } from './byte-meter.js'
import type { Codec } from '../codec/codec.js'
import { BackhaulStatus, encodeBackhaulHeader, statusName } from './backhaul-header.js'
import type { HostRoute, MachineRoute } from './route-table.js'

/** Where one connection to a machine goes. */
export interface UpstreamTarget {
  machine: MachineRoute
  /** The guest port (the service's internal port). */
  port: number
  /** The machine's host, when it is another one (reached through its router's backhaul). */
  host: HostRoute | undefined
}

/** Why a connection to a machine could not be made; nothing reached the machine. */
export class ConnectFailure extends Error {
  constructor (readonly reason: string, readonly machine: string) {
    super(`connect to ${machine}: ${reason}`)
  }

  /** The machine's host refused because the machine is at its hard limit (not a failure of the machine). */
  get atLimit (): boolean { return this.reason.endsWith('at-limit') }
}

export interface ConnectorInit {
  hostId: string
  backhaulKey: Buffer
  connectTimeoutMs: number
}

/** Opens connections to machines: directly when local, through the machine host's router otherwise. */
export interface Connector {
  /**
   * `mode` (remote machines): what the backhaul carries — see BackhaulHeader. `onread` (local
   * machines): read the connection into the caller's buffers instead of 'data' events.
   */
  connect: (target: UpstreamTarget, client: string, now: number, mode?: 'http' | 'tcp', onread?: OnReadOpts) => Promise<Socket>
}

/** Where a local machine's guest port answers from this host. */
export function localAddress (m: MachineRoute, port: number): { host: string, port: number } | null {
  if (m.endpoint === null) return null
  if (port === m.guestPort) return m.endpoint
  return m.namespaced ? { host: m.endpoint.host, port } : null
}

const noop = (): void => {}

function dial (host: string, port: number, timeoutMs: number, machine: string, onread?: OnReadOpts): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port, noDelay: true, ...(onread === undefined ? {} : { onread }) })
    const timer = setTimeout(() => { s.destroy(); reject(new ConnectFailure(`timed out after ${timeoutMs} ms`, machine)) }, timeoutMs)
    s.once('connect', () => {
      clearTimeout(timer)
      s.removeAllListeners('error')
      s.on('error', noop)
      resolve(s)
    })
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      s.destroy()
      reject(new ConnectFailure(err.code ?? err.message, machine))
    })
  })
}

/** Waits for the backhaul's one status byte; bytes after it belong to the machine's stream. */
function awaitStatus (s: Socket, timeoutMs: number, machine: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer)
      s.off('data', onData)
      s.destroy()
      reject(new ConnectFailure(why, machine))
    }
    const timer = setTimeout(() => { fail('backhaul answer timed out') }, timeoutMs)
    const onData = (chunk: Buffer): void => {
      clearTimeout(timer)
      s.off('data', onData)
      s.off('error', onError)
      s.off('end', onEnd)
      s.pause()
      const status = chunk[0] as number
      if (status !== BackhaulStatus.OK) {
        s.destroy()
        reject(new ConnectFailure(`backhaul refused: ${statusName(status)}`, machine))
        return
      }
      s.on('error', noop)
      if (chunk.byteLength > 1) s.unshift(chunk.subarray(1))
      resolve(s)
    }
    const onError = (err: Error): void => { fail(`backhaul: ${err.message}`) }
    const onEnd = (): void => { fail('backhaul closed') }
    s.on('data', onData)
    s.once('error', onError)
    s.once('end', onEnd)
  })
}

export function createConnector (init: ConnectorInit, components: { codec: Codec, meter: ByteMeter }): Connector {
  return {
    async connect (target, client, now, mode = 'tcp', onread) {
      const { machine, port, host } = target
      if (machine.local) {
        const addr = localAddress(machine, port)
        if (addr === null) throw new ConnectFailure(`no endpoint for port ${port}`, machine.id)
        return await dial(addr.host, addr.port, init.connectTimeoutMs, machine.id, onread)
      }
      if (host?.backhaul == null) throw new ConnectFailure('its host has no backhaul address', machine.id)
      const s = await dial(host.backhaul.address, host.backhaul.port, init.connectTimeoutMs, machine.id)
      components.meter.track(s)
      s.write(encodeBackhaulHeader(components.codec, init.backhaulKey, { from: init.hostId, ts: now, app: machine.app, machine: machine.id, port, client, mode }))
      return await awaitStatus(s, init.connectTimeoutMs * 2, machine.id)
    }
  }
}
