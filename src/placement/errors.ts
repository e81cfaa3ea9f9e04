import { RejectionError } from '../errors/roost-error.js'
import { defineError } from '../errors/errors.js'

/** A host refused a machine: what it asks for does not fit in what the host has left. */
export const NoCapacityError = defineError('NoCapacityError', 'ERR_NO_CAPACITY', RejectionError)

/** No host could take a machine (none alive in the region, all full, or all refused). */
export const PlacementError = defineError('PlacementError', 'ERR_PLACEMENT', RejectionError)
