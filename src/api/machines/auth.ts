import { createHash, timingSafeEqual } from 'node:crypto'
import { ConfigError, UnauthorizedError } from '../../errors/errors.js'

/** Checks an Authorization header against the API token. */
export type BearerCheck = (authorization: string | undefined) => void

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest()

/**
 * A bearer-token check in constant time: both sides are hashed first, so neither the token's
 * length nor its prefix leaks through timing. Throws UnauthorizedError.
 */
export function createBearerCheck (token: string): BearerCheck {
  if (token.length === 0) throw new ConfigError('the Machines API token must not be empty')
  const expected = digest(token)
  return (authorization) => {
    if (authorization === undefined || authorization.length === 0) throw new UnauthorizedError('missing bearer token (Authorization: Bearer <token>)')
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization)
    const given = m?.[1]
    if (given === undefined) throw new UnauthorizedError('the Authorization header must be "Bearer <token>"')
    if (!timingSafeEqual(digest(given), expected)) throw new UnauthorizedError('invalid bearer token')
  }
}
