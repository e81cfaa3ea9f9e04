import { createConnection } from 'node:net'
import { wrap, type Remote } from 'comlink'
import { createCodec } from '../codec/codec.js'
import { AgentUnavailableError } from '../errors/errors.js'
import { installComlinkErrorHandler } from './comlink-errors.js'
import type { ControlApi } from './control-api.js'
import { socketEndpoint } from './socket-endpoint.js'

export interface ControlClient {
  api: Remote<ControlApi>
  /** Runs one call, failing with a typed error if the agent closes the socket first. */
  call: <T>(fn: (api: Remote<ControlApi>) => Promise<T>) => Promise<T>
  close: () => void
}

/** Connects to a local agent's control socket. */
export async function connectControl (socketPath: string): Promise<ControlClient> {
  installComlinkErrorHandler()
  const socket = createConnection(socketPath)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', (err) => {
      reject(new AgentUnavailableError(`no agent on ${socketPath} (${(err as NodeJS.ErrnoException).code ?? err.message}); is 'roost agent start' running with this --data-dir?`, { socket: socketPath }))
    })
  })
  socket.on('error', () => {})
  const closed = new Promise<never>((_resolve, reject) => {
    socket.once('close', () => { reject(new AgentUnavailableError(`agent closed the control socket ${socketPath}`, { socket: socketPath })) })
  })
  closed.catch(() => {})
  const api = wrap<ControlApi>(socketEndpoint(socket, createCodec(), () => {}))
  return {
    api,
    call: async (fn) => await Promise.race([fn(api), closed]),
    close: () => { socket.end(); socket.destroy() }
  }
}
