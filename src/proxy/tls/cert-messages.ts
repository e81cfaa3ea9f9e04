import { Type, type Static } from '@sinclair/typebox'
import { MAX_CERT_PEM_BYTES } from '../../gossip/rows.js'
import { MAX_HOSTNAME_LENGTH } from './hostnames.js'

/**
 * Bodies and replies of the router's `router.certs-add|list|rm` messages. They live in src/ so the
 * CLI (which may not import actors/) and the router actor share them.
 */

/** Private keys are sealed into rows of at most MAX_CERT_PEM_BYTES; base64 and the IV/tag take a quarter more. */
export const MAX_KEY_PEM_BYTES = 12 * 1024

const Hostname = Type.String({ minLength: 1, maxLength: MAX_HOSTNAME_LENGTH + 1 })

/** `router.certs-add`: with both PEMs the user's certificate; without, one issued by this host's CA. */
export const CertsAddBody = Type.Object({
  hostname: Hostname,
  app: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
  certPem: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_CERT_PEM_BYTES })),
  keyPem: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_KEY_PEM_BYTES }))
}, { additionalProperties: false })

/** A `certs` row as people see it: never the key. */
export const CertView = Type.Object({
  hostname: Type.String(),
  app: Type.Union([Type.String(), Type.Null()]),
  source: Type.Union([Type.Literal('ca'), Type.Literal('user'), Type.Literal('acme')]),
  notAfter: Type.Number(),
  expired: Type.Boolean(),
  /** SHA-256 of the leaf, colon-separated hex; null when the row's PEM does not parse. */
  fingerprint: Type.Union([Type.String(), Type.Null()]),
  issuer: Type.Union([Type.String(), Type.Null()]),
  /** The leaf's DNS names and IP addresses. */
  names: Type.Array(Type.String()),
  updatedAt: Type.Number(),
  /** Why the row is unusable (a PEM that does not parse), else null. */
  error: Type.Union([Type.String(), Type.Null()])
}, { additionalProperties: false })

export const CertsAddReply = Type.Object({
  cert: CertView,
  /** Whether a row for this hostname existed before. */
  replaced: Type.Boolean()
}, { additionalProperties: false })

export const CertsListBody = Type.Object({}, { additionalProperties: false })
export const CertsListReply = Type.Object({ certs: Type.Array(CertView) }, { additionalProperties: false })

export const CertsRmBody = Type.Object({ hostname: Hostname }, { additionalProperties: false })
export const CertsRmReply = Type.Object({ hostname: Type.String() }, { additionalProperties: false })

export type CertsAddBody = Static<typeof CertsAddBody>
export type CertsAddReply = Static<typeof CertsAddReply>
export type CertView = Static<typeof CertView>
export type CertsListBody = Static<typeof CertsListBody>
export type CertsListReply = Static<typeof CertsListReply>
export type CertsRmBody = Static<typeof CertsRmBody>
export type CertsRmReply = Static<typeof CertsRmReply>
