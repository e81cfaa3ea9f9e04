import { createServer, createConnection, type Server, type Socket } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import { expose } from 'comlink'
import type { Codec } from '../codec/codec.js'
import type { Logger } from '../log/logger.js'
import { installComlinkErrorHandler } from './comlink-errors.js'
import type { ControlApi } from './control-api.js'
import { socketEndpoint } from './socket-endpoint.js'

export interface ControlServerInit {
  socketPath: string
}

export interface ControlServerComponents {
  logger: Logger
  codec: Codec
  api: ControlApi
}

export interface ControlServer {
  start: () => Promise<void>
  stop: () => Promise<void>
}

async function socketInUse (path: string): Promise<boolean> {
  return await new Promise(resolve => {
    const s = createConnection(path)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

/** Serves the {@link ControlApi} on a unix socket (mode 0600) for the CLI. */
export function createControlServer (init: ControlServerInit, components: ControlServerComponents): ControlServer {
  const log = components.logger.child({ component: 'control' })
  let server: Server | undefined
  const sockets = new Set<Socket>()
  installComlinkErrorHandler()
  return {
    async start () {
      if (server !== undefined) return
      if (await socketInUse(init.socketPath)) throw new Error(`another agent is listening on ${init.socketPath}`)
      await unlink(init.socketPath).catch(() => {})
      const srv = createServer((socket) => {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => {})
        expose(components.api, socketEndpoint(socket, components.codec, (err) => {
          log.warn({ err: err.message, code: (err as { code?: string }).code }, 'bad control frame; connection closed')
        }))
      })
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject)
        srv.listen(init.socketPath, () => { srv.off('error', reject); resolve() })
      })
      await chmod(init.socketPath, 0o600)
      server = srv
      log.debug({ socket: init.socketPath }, 'control socket listening')
    },
    async stop () {
      const srv = server
      if (srv === undefined) return
      server = undefined
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => { srv.close(() => { resolve() }) })
      await unlink(init.socketPath).catch(() => {})
    }
  }
}
