import { RESULT_CODES, type ResultCode } from './result-codes.js'

/** Router errors of one app and code since the last report of them. */
export interface RouterErrorReport {
  app: string
  code: ResultCode
  /** How many answers carried this code since the last report (at least 1). */
  count: number
  /** The detail of the last of them, if it had one (cut to a line). */
  detail?: string
  firstAt: number
  lastAt: number
}

export interface RouterErrorsInit {
  /** At most one report per app and code in this window (ms); the ones between are counted. */
  windowMs?: number
  /** Apps × codes tracked at once; errors of further pairs are counted in `overflow` only. */
  maxKeys?: number
}

/**
 * The data plane's router errors (answers with a 5xx result code: no healthy machine, connect
 * failures, timeouts), summed per app and code and handed to the agent in batches: a flood of
 * failing requests is one report per app and code per window, never a message per request.
 */
export interface RouterErrors {
  note: (app: string, code: ResultCode, now: number, detail?: string) => void
  /** The reports due now (first errors of a pair at once, then one per window with the count). */
  take: (now: number) => RouterErrorReport[]
  /** Errors not tracked because `maxKeys` pairs were. */
  overflow: () => number
}

export const WINDOW_MS = 10_000
export const MAX_KEYS = 512
const MAX_DETAIL_CHARS = 160

interface Entry { app: string, code: ResultCode, count: number, detail: string | undefined, firstAt: number, lastAt: number, reportedAt: number | null }

/** Whether a result code is the router failing the app's clients (rather than a client's own mistake). */
export const isRouterError = (code: ResultCode): boolean => RESULT_CODES[code].status >= 500

export function createRouterErrors (init: RouterErrorsInit = {}): RouterErrors {
  const windowMs = init.windowMs ?? WINDOW_MS
  const maxKeys = init.maxKeys ?? MAX_KEYS
  const entries = new Map<string, Entry>()
  let overflow = 0
  return {
    note (app, code, now, detail) {
      if (!isRouterError(code)) return
      const key = `${app}\u0000${code}`
      let e = entries.get(key)
      if (e === undefined) {
        if (entries.size >= maxKeys) { overflow++; return }
        e = { app, code, count: 0, detail: undefined, firstAt: now, lastAt: now, reportedAt: null }
        entries.set(key, e)
      }
      if (e.count === 0) e.firstAt = now
      e.count++
      e.lastAt = now
      if (detail !== undefined) e.detail = detail.replace(/[\r\n]+/g, ' ').slice(0, MAX_DETAIL_CHARS)
    },
    take (now) {
      const due: RouterErrorReport[] = []
      for (const [key, e] of entries) {
        const quiet = e.reportedAt !== null && now - e.reportedAt < windowMs
        if (e.count === 0) {
          if (!quiet) entries.delete(key)
          continue
        }
        if (quiet) continue
        due.push({ app: e.app, code: e.code, count: e.count, ...(e.detail === undefined ? {} : { detail: e.detail }), firstAt: e.firstAt, lastAt: e.lastAt })
        e.count = 0
        e.detail = undefined
        e.reportedAt = now
      }
      return due
    },
    overflow: () => overflow
  }
}

/** One line for people about a report, e.g. `web: PR01 no healthy machine for this app (12 times in 3.2 s)`. */
export function describeRouterError (r: RouterErrorReport): string {
  const times = r.count === 1 ? '' : ` (${r.count} times in ${((r.lastAt - r.firstAt) / 1000).toFixed(1)} s)`
  return `${r.app}: ${r.code} ${RESULT_CODES[r.code].text}${times}${r.detail === undefined ? '' : `: ${r.detail}`}`
}
