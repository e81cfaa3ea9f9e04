import { Type } from '@sinclair/typebox'
import { AcmeIssueBody } from '../../src/acme/acme-messages.js'
import { ACME_TOKEN_PATTERN } from '../../src/gossip/rows.js'
import { CertsAddReply } from '../../src/proxy/tls/cert-messages.js'
import { defineActorProtocol } from '../../src/runtime/senders.js'

/**
 * Messages of `/agent/acme`. The CLI and other hosts send `acme.issue`; the host running an
 * order asks every other host's `acme.check` whether its router answers the challenge yet;
 * `acme.tick` (renewals, expired challenges) comes from the actor's own timer.
 */
export const acmeProtocol = defineActorProtocol('acme', {
  'acme.issue': { body: AcmeIssueBody, reply: CertsAddReply, from: 'member' },
  'acme.check': {
    body: Type.Object({ token: Type.String({ pattern: ACME_TOKEN_PATTERN }), keyAuthorization: Type.String({ maxLength: 256 }), hostname: Type.String({ maxLength: 256 }) }),
    reply: Type.Object({ answered: Type.Boolean() }),
    from: 'member'
  },
  'acme.tick': { body: Type.Object({}), reply: Type.Void(), from: 'self' }
})

export type AcmeProtocol = typeof acmeProtocol.specs
