import { createHash, randomBytes } from 'node:crypto'
import { createRowSigner, type RowSigner } from '../../src/gossip/row-signature.js'
import type { Row, UnsignedRow } from '../../src/gossip/rows.js'

const signers = new Map<string, RowSigner>()

/** A host key: from a name (the same name gives the same key in every run) or random. Remembered for {@link hostKeyOf} and {@link signed}. */
export function hostKey (name?: string): RowSigner {
  const seed = name === undefined ? randomBytes(32) : createHash('sha256').update(`roost-test-host/${name}`).digest()
  const signer = createRowSigner(seed)
  signers.set(signer.hostId, signer)
  return signer
}

/** The key of a host id made by {@link hostKey} (or `randomHostId`) in this process. */
export function hostKeyOf (hostId: string): RowSigner {
  const signer = signers.get(hostId)
  if (signer === undefined) throw new Error(`no test key for host ${hostId.slice(0, 12)}: make host ids with hostKey() or randomHostId()`)
  return signer
}

/** `row` signed by its owner, as the owner's replica would have written it. */
export function signed (row: UnsignedRow): Row {
  return { ...row, sig: hostKeyOf(row.owner).sign(row) }
}

/** Host ids of `n` named keys, in ascending order (for tests of the (version, owner) tie-break). */
export function orderedHostIds (prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => hostKey(`${prefix}-${i}`).hostId).sort()
}
