import { createRequire } from 'node:module'
import { pino, type Logger, type LoggerOptions } from 'pino'
import type PinoPretty from 'pino-pretty'

// pino-pretty only for people at a terminal: agents and tests log JSON and never load it.
const requirePretty = (): typeof PinoPretty => createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty

export type { Logger } from 'pino'

export interface LoggerInit {
  name?: string
  level?: string
  /** Pretty, coloured lines; defaults to whether stderr is a terminal. */
  pretty?: boolean
  /** Where lines go; defaults to stderr (stdout is for command output). */
  destination?: number | string
  base?: Record<string, unknown>
}

/** The process's root logger: JSON lines, or pretty ones on a terminal. */
export function createLogger (init: LoggerInit = {}): Logger {
  const opts: LoggerOptions = {
    level: init.level ?? process.env.ROOST_LOG_LEVEL ?? 'info',
    base: { pid: process.pid, ...(init.name === undefined ? {} : { name: init.name }), ...init.base }
  }
  const usePretty = init.pretty ?? process.stderr.isTTY === true
  const destination = init.destination ?? 2
  if (usePretty) {
    return pino(opts, requirePretty()({ colorize: true, destination, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l', singleLine: true }))
  }
  return pino(opts, pino.destination({ dest: destination, sync: typeof destination === 'number' }))
}

/** A logger that drops everything, for tests and benches that do not read logs. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
