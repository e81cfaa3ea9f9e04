import type { IncomingMessage } from 'node:http'
import { InvalidArgumentError } from '../../errors/errors.js'
import { InvalidJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.js'
import { jsonDepthWithin, MAX_JSON_DEPTH } from './json-depth.js'

/** Reads a whole request body, failing with ERR_PAYLOAD_TOO_LARGE past `maxBytes` (checked against Content-Length first). */
export async function readBody (req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > maxBytes) {
    throw new PayloadTooLargeError(`request body of ${declared} bytes is over the limit of ${maxBytes}`, { limit: maxBytes })
  }
  return await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    const finish = (err: Error | undefined): void => {
      if (done) return
      done = true
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
      if (err === undefined) resolve(Buffer.concat(chunks, size))
      else reject(err)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > maxBytes) {
        finish(new PayloadTooLargeError(`request body is over the limit of ${maxBytes} bytes`, { limit: maxBytes }))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => { finish(undefined) }
    const onError = (err: Error): void => { finish(err) }
    const onClose = (): void => { finish(new Error('request closed before its body was complete')) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

function isJsonMediaType (header: string | undefined): boolean {
  if (header === undefined) return false
  const type = header.split(';')[0]?.trim().toLowerCase()
  return type === 'application/json'
}

/**
 * The request's JSON body, or undefined when it has none and none is required. A body needs
 * `Content-Type: application/json`; an empty one counts as none; one nested deeper than
 * {@link MAX_JSON_DEPTH} is refused before it is parsed.
 */
export async function readJsonBody (req: IncomingMessage, opts: { maxBytes: number, required: boolean }): Promise<unknown> {
  const raw = await readBody(req, opts.maxBytes)
  if (raw.length === 0) {
    if (opts.required) throw new InvalidArgumentError('a JSON request body is required', { errors: [{ in: 'body', path: '', message: 'missing body' }] })
    return undefined
  }
  if (!isJsonMediaType(req.headers['content-type'])) {
    throw new UnsupportedMediaTypeError(`request body must be sent with Content-Type: application/json (got ${req.headers['content-type'] ?? 'none'})`)
  }
  if (!jsonDepthWithin(raw)) throw new InvalidJsonError(`request body nests deeper than ${MAX_JSON_DEPTH} arrays and objects`, { maxDepth: MAX_JSON_DEPTH })
  try {
    return JSON.parse(raw.toString('utf8'))
  } catch (err) {
    throw new InvalidJsonError(`request body is not valid JSON: ${(err as Error).message}`)
  }
}
