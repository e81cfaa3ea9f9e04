/**
 * Why the router answered instead of the app. Each code is stable: it is sent in the
 * `roost-error` response header and body, counted per app, and documented in the README.
 */
export const RESULT_CODES = {
  PR01: { status: 503, text: 'no healthy machine for this app' },
  PR02: { status: 404, text: 'no app is served at this host and port' },
  PR03: { status: 503, text: 'every machine of the app is at its hard limit' },
  PR04: { status: 502, text: 'no machine could be connected' },
  PR05: { status: 503, text: 'timed out waiting for a machine to start' },
  PR06: { status: 508, text: 'replay: too many hops' },
  PR07: { status: 413, text: 'replay: request body over the replay buffer limit' },
  PR08: { status: 502, text: 'replay: no machine matches the replay target' },
  PR09: { status: 502, text: 'the machine closed the connection before a response' },
  PR10: { status: 400, text: 'malformed request' },
  PR11: { status: 431, text: 'request head too large' },
  PR12: { status: 408, text: 'request head not received in time' },
  PR13: { status: 502, text: 'malformed response from the machine' },
  PR14: { status: 504, text: 'the machine did not answer in time' }
} as const

export type ResultCode = keyof typeof RESULT_CODES

const REASONS: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 408: 'Request Timeout', 413: 'Content Too Large', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 508: 'Loop Detected', 301: 'Moved Permanently', 501: 'Not Implemented', 505: 'HTTP Version Not Supported' }

export function reasonPhrase (status: number): string {
  return REASONS[status] ?? 'Error'
}

/** A complete HTTP/1.1 error response from the router itself (it closes the connection when `close`). */
export function errorResponse (code: ResultCode, opts: { requestId?: string, close?: boolean, detail?: string, status?: number } = {}): Buffer {
  const { status: defaultStatus, text } = RESULT_CODES[code]
  const status = opts.status ?? defaultStatus
  const body = `${code}: ${text}${opts.detail === undefined ? '' : ` (${opts.detail})`}\n`
  return Buffer.from(
    `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n` +
    `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `roost-error: ${code}\r\n` +
    (opts.requestId === undefined ? '' : `roost-request-id: ${opts.requestId}\r\n`) +
    'server: roost\r\n' +
    (opts.close === true ? 'connection: close\r\n' : '') +
    `\r\n${body}`, 'latin1')
}
