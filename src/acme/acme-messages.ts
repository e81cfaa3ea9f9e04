import { Type, type Static } from '@sinclair/typebox'
import { MAX_HOSTNAME_LENGTH } from '../gossip/hostname-pattern.js'

/** Let's Encrypt's production directory: the default of `--acme-directory`. */
export const LETS_ENCRYPT_DIRECTORY = 'https://acme-v02.api.letsencrypt.org/directory'

/**
 * Bodies of `/agent/acme`'s messages that the CLI sends too (it may not import actors/); the
 * reply of `acme.issue` is the router's CertsAddReply.
 */

/** `acme.issue`: obtain a certificate for `hostname` from an ACME directory and store it in `certs`. */
export const AcmeIssueBody = Type.Object({
  hostname: Type.String({ minLength: 1, maxLength: MAX_HOSTNAME_LENGTH + 1 }),
  app: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  /** The directory URL; absent: the agent's `--acme-directory`. */
  directory: Type.Optional(Type.String({ minLength: 1, maxLength: 512, pattern: '^https?://' }))
}, { additionalProperties: false })

export type AcmeIssueBody = Static<typeof AcmeIssueBody>
