import { transferHandlers, type Endpoint } from 'comlink'
import { ControlCallRefusedError } from '../errors/errors.js'
import type { ControlApi } from './control-api.js'

type Listener = (ev: { data: unknown }) => void

/** The calls the control socket answers: every method of {@link ControlApi}, and nothing else. */
export const CONTROL_METHODS: { readonly [K in keyof ControlApi]: true } = Object.freeze({
  info: true,
  members: true,
  state: true,
  send: true,
  mesh: true,
  timeline: true,
  shutdown: true
})

const isMethod = (name: unknown): name is keyof ControlApi =>
  typeof name === 'string' && Object.prototype.hasOwnProperty.call(CONTROL_METHODS, name)

interface RawValue { type: 'RAW', value: unknown }

const isRaw = (v: unknown): v is RawValue =>
  typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'RAW'

/**
 * What comlink may see of an incoming message: a call of one listed method with plain
 * arguments (rebuilt, so nothing else of the frame reaches it), or comlink's release of the
 * proxy; null for anything else — a get, set or construct, a path into `__proto__` or
 * `constructor`, an unlisted name, or arguments comlink would revive (proxies, ports, errors).
 */
function admit (data: Record<string, unknown>): Record<string, unknown> | null {
  const { type, path, argumentList } = data
  const id = idOf(data)
  if (type === 'RELEASE') return path === undefined || (Array.isArray(path) && path.length === 0) ? { id, type } : null
  if (type !== 'APPLY' || !Array.isArray(path) || path.length !== 1 || !isMethod(path[0])) return null
  const args = argumentList ?? []
  if (!Array.isArray(args) || args.length > 8 || !args.every(isRaw)) return null
  return { id, type, path: [path[0]], argumentList: args.map(a => ({ type: 'RAW', value: a.value })) }
}

const idOf = (data: Record<string, unknown>): string | number | undefined =>
  typeof data.id === 'string' || typeof data.id === 'number' ? data.id : undefined

function describe (data: Record<string, unknown>): string {
  const path = Array.isArray(data.path) ? data.path.slice(0, 4).map(p => String(p).slice(0, 32)).join('.') : ''
  return `${String(data.type).slice(0, 16)} ${path}`.trim()
}

/**
 * Wraps the server side of a control connection so comlink answers only calls of the listed
 * methods: anything else gets a typed `ERR_CONTROL_CALL_REFUSED` reply and `onRefused` (for one
 * log line), and never walks the API object.
 */
export function guardControlEndpoint (ep: Endpoint, onRefused: (err: ControlCallRefusedError) => void): Endpoint {
  const wrapped = new Map<Listener, Listener>()
  const refuse = (data: Record<string, unknown>): void => {
    const what = describe(data)
    const err = new ControlCallRefusedError(`the control socket answers only calls of ${Object.keys(CONTROL_METHODS).join(', ')}; refused ${what}`, { request: what })
    onRefused(err)
    const [value, transfer] = (transferHandlers.get('throw') as { serialize: (v: unknown) => [unknown, Transferable[]] }).serialize({ value: err })
    ep.postMessage({ id: idOf(data), type: 'HANDLER', name: 'throw', value }, transfer)
  }
  return {
    postMessage: (message, transfer) => { ep.postMessage(message, transfer) },
    addEventListener (type: string, listener: unknown) {
      const inner = listener as Listener
      const guard: Listener = (ev) => {
        const data = ev.data as Record<string, unknown>
        const admitted = admit(data)
        if (admitted === null) refuse(data)
        else inner({ data: admitted })
      }
      wrapped.set(inner, guard)
      ep.addEventListener(type, guard as never)
    },
    removeEventListener (type: string, listener: unknown) {
      const guard = wrapped.get(listener as Listener)
      if (guard === undefined) return
      wrapped.delete(listener as Listener)
      ep.removeEventListener(type, guard as never)
    }
  }
}
