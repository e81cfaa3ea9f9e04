import type { Codec } from '../codec/codec.js'
import { decodeEnvelope, encodeEnvelope, PROTOCOL_VERSION, SYS_ERROR, SYS_REPLY, type Envelope } from '../codec/envelope.js'
import { AskTimeoutError, HostUnreachableError, MalformedFrameError } from '../errors/errors.js'
import { errorFromWire, isWireError, RoostError, toWireError } from '../errors/roost-error.js'
import type { Logger } from '../log/logger.js'
import type { Transport } from '../transport/transport.js'
import type { Sender } from './actor.js'
import type { Clock } from './clock.js'
import type { MessageObserver } from './observers.js'
import { createLogLimiter, suppressedField } from '../log/log-limiter.js'

export interface RemotingInit {
  hostId: string
}

export interface RemotingComponents {
  codec: Codec
  transport: Transport
  logger: Logger
  clock: Clock
  /** Hands a validated-to-be message to the local actor at `path`. */
  deliver: (path: string, type: string, body: unknown, reply: ((err: Error | undefined, value?: unknown) => void) | undefined, sender: Sender) => void
  onBadFrame: () => void
  /** Metrics: counts every message sent and received, by peer and type. */
  messages?: MessageObserver
}

interface Pending {
  host: string
  resolve: (value: unknown) => void
  reject: (err: Error) => void
  timer: unknown
}

/**
 * The envelope layer between the actor system and the transport: encodes outgoing messages,
 * matches replies to asks, answers every bad incoming frame with a typed `sys.error`, and fails
 * asks at once when their host goes away.
 */
export interface Remoting {
  start: () => Promise<void>
  stop: () => Promise<void>
  dispatch: (host: string, path: string, type: string, body: unknown, from: string) => void
  ask: (host: string, path: string, type: string, body: unknown, opts: { timeoutMs: number, from: string }) => Promise<unknown>
  /** Asks in flight (for tests and stats). */
  pending: () => number
}

export function createRemoting (init: RemotingInit, components: RemotingComponents): Remoting {
  const { codec, transport, clock, messages } = components
  const log = components.logger.child({ component: 'remoting' })
  const logGate = createLogLimiter({}, { clock })
  const pending = new Map<number, Pending>()
  let nextId = 1
  let started = false

  const send = (host: string, env: Envelope, onFailure?: (err: Error) => void): void => {
    const frame = encodeEnvelope(codec, env)
    messages?.sent(host, env.type, frame.byteLength)
    transport.send(host, frame, onFailure)
  }

  const sendError = (host: string, re: number | undefined, err: unknown, to = '', type = ''): void => {
    if (type !== '') messages?.failed(host, type, 'rejected')
    const env: Envelope = { v: PROTOCOL_VERSION, type: SYS_ERROR, id: nextId++, from: '', to, body: toWireError(err) }
    if (re !== undefined) env.re = re
    send(host, env, (e) => { log.debug({ host, err: e.message }, 'could not send error reply') })
  }

  const settle = (env: Envelope, host: string): void => {
    const re = env.re
    const p = re === undefined ? undefined : pending.get(re)
    if (p === undefined || p.host !== host) {
      if (env.type === SYS_ERROR) {
        const wire = isWireError(env.body) ? env.body : { code: 'ERR_UNKNOWN', message: 'malformed error body' }
          const gate = logGate.take(`${host}:reported:${wire.code}`)
        if (gate !== false) log.warn({ host, re, code: wire.code, err: wire.message, ...suppressedField(gate) }, 'peer reported an error for a message we sent')
      }
      return
    }
    pending.delete(re as number)
    clock.clearTimeout(p.timer)
    if (env.type === SYS_REPLY) {
      p.resolve(env.body)
    } else {
      p.reject(errorFromWire(isWireError(env.body) ? env.body : { code: 'ERR_UNKNOWN', message: 'malformed error body' }))
    }
  }

  const failureLoggers = new Map<string, (err: Error) => void>()
  /** One logger per host, so a dispatch allocates nothing for the failure path. */
  const dispatchFailure = (host: string): ((err: Error) => void) => {
    let fn = failureLoggers.get(host)
    if (fn === undefined) {
      if (failureLoggers.size > 10_000) failureLoggers.clear()
      fn = (err: Error) => {
        messages?.failed(host, 'dispatch', 'undelivered')
        log.warn({ host, code: (err as RoostError).code, err: err.message }, 'dispatch not delivered')
      }
      failureLoggers.set(host, fn)
    }
    return fn
  }

  const onFrame = (host: string, payload: Buffer): void => {
    let env: Envelope
    try {
      env = decodeEnvelope(codec, payload)
    } catch (err) {
      components.onBadFrame()
      messages?.failed(host, 'frame', 'malformed')
      const e = err instanceof RoostError ? err : new MalformedFrameError(String(err))
      const id = e.details?.id as number | undefined
      const gate = logGate.take(`${host}:${e.code}`)
      if (gate !== false) log.warn({ host, code: e.code, err: e.message, bytes: payload.byteLength, ...suppressedField(gate) }, 'bad frame')
      sendError(host, id, e)
      return
    }
    messages?.received(host, env.type, payload.byteLength)
    if (env.type === SYS_REPLY || env.type === SYS_ERROR) {
      settle(env, host)
      return
    }
    const reply = env.replyTo === undefined
      ? (err: Error | undefined) => { if (err !== undefined) sendError(host, env.id, err, env.from, env.type) }
      : (err: Error | undefined, value?: unknown) => {
          if (err !== undefined) {
            sendError(host, env.id, err, env.replyTo, env.type)
            return
          }
          send(host, { v: PROTOCOL_VERSION, type: SYS_REPLY, id: nextId++, from: env.to, to: env.replyTo as string, re: env.id, body: value ?? null },
            (e) => { log.debug({ host, err: e.message }, 'could not send reply') })
        }
    components.deliver(env.to, env.type, env.body, reply, { host, path: env.from })
  }

  const onFrameError = (host: string, err: Error): void => {
    components.onBadFrame()
    messages?.failed(host, 'frame', 'malformed')
    const gate = logGate.take(`${host}:${(err as RoostError).code}`)
    if (gate !== false) log.warn({ host, code: (err as RoostError).code, err: err.message, ...suppressedField(gate) }, 'bad frame')
    sendError(host, undefined, err)
  }

  const onDisconnect = (host: string): void => {
    for (const [id, p] of pending) {
      if (p.host !== host) continue
      pending.delete(id)
      clock.clearTimeout(p.timer)
      p.reject(new HostUnreachableError(`host ${host.slice(0, 12)} went away with the message in flight`, { host }))
    }
  }

  return {
    async start () {
      if (started) return
      started = true
      transport.on('frame', onFrame)
      transport.on('disconnect', onDisconnect)
      transport.on('frame-error', onFrameError)
    },
    async stop () {
      if (!started) return
      started = false
      transport.off('frame', onFrame)
      transport.off('disconnect', onDisconnect)
      transport.off('frame-error', onFrameError)
      for (const [id, p] of pending) {
        pending.delete(id)
        clock.clearTimeout(p.timer)
        p.reject(new HostUnreachableError('actor system stopped with the message in flight', { host: p.host }))
      }
    },
    dispatch (host, path, type, body, from) {
      const frame = codec.encode([PROTOCOL_VERSION, type, nextId++, from, path, null, null, body])
      messages?.sent(host, type, frame.byteLength)
      transport.send(host, frame, dispatchFailure(host))
    },
    async ask (host, path, type, body, opts) {
      const id = nextId++
      return await new Promise((resolve, reject) => {
        const timer = clock.setTimeout(() => {
          if (!pending.delete(id)) return
          reject(new AskTimeoutError(`no reply from ${host.slice(0, 12)}${path} to ${type} within ${opts.timeoutMs} ms`, { host, path, type, timeoutMs: opts.timeoutMs }))
        }, opts.timeoutMs)
        pending.set(id, { host, resolve, reject, timer })
        send(host, { v: PROTOCOL_VERSION, type, id, from: opts.from, to: path, replyTo: opts.from === '' ? '/ask' : opts.from, body }, (err) => {
          if (!pending.delete(id)) return
          clock.clearTimeout(timer)
          reject(err)
        })
      })
    },
    pending: () => pending.size
  }
}
