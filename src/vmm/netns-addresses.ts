import { InvalidArgumentError } from '../errors/errors.js'

/** Indices of per-machine /30s: 10.210.0.0/16 (veth) and 10.211.0.0/16 (tap) hold 16384 each. */
export const NETNS_INDEX_COUNT = 16384
export const VETH_NET_OCTETS = [10, 210] as const
export const TAP_NET_OCTETS = [10, 211] as const

/** The addresses that belong to one namespace index (all /30). */
export interface NetnsAddresses {
  index: number
  /** Host end of the veth pair (the namespace's default gateway). */
  hostAddress: string
  /** Namespace end of the veth pair (`eth0` inside). */
  nsAddress: string
  /** The veth /30, e.g. `10.210.0.4/30`. */
  vethNetwork: string
  /** Namespace end of a tap device (the guest's gateway). */
  tapAddress: string
  /** The guest behind the tap. */
  guestAddress: string
  /** The tap /30, e.g. `10.211.0.4/30` (the host routes it via `nsAddress`). */
  guestNetwork: string
  /** The guest NIC's MAC: fixed per index, so a static neighbour entry can be made up front. */
  guestMac: string
  prefixLength: 30
}

function quad (octets: readonly [number, number], index: number, host: number): string {
  return `${octets[0]}.${octets[1]}.${index >> 6}.${(index & 63) * 4 + host}`
}

/** The addresses of namespace `index` (0..16383). Pure. */
export function addressesFor (index: number): NetnsAddresses {
  if (!Number.isInteger(index) || index < 0 || index >= NETNS_INDEX_COUNT) {
    throw new InvalidArgumentError(`netns index must be an integer in 0..${NETNS_INDEX_COUNT - 1}, got ${index}`)
  }
  const hex = (n: number): string => n.toString(16).padStart(2, '0')
  return {
    index,
    hostAddress: quad(VETH_NET_OCTETS, index, 1),
    nsAddress: quad(VETH_NET_OCTETS, index, 2),
    vethNetwork: `${quad(VETH_NET_OCTETS, index, 0)}/30`,
    tapAddress: quad(TAP_NET_OCTETS, index, 1),
    guestAddress: quad(TAP_NET_OCTETS, index, 2),
    guestNetwork: `${quad(TAP_NET_OCTETS, index, 0)}/30`,
    guestMac: `52:54:00:d2:${hex(index >> 8)}:${hex(index & 255)}`,
    prefixLength: 30
  }
}

/** The index whose veth /30 holds `address`, or null when it is not in 10.210.0.0/16. */
export function indexOfVethAddress (address: string): number | null {
  const m = /^10\.210\.(\d{1,3})\.(\d{1,3})$/.exec(address)
  if (m === null) return null
  const hi = Number(m[1])
  const lo = Number(m[2])
  if (hi > 255 || lo > 255) return null
  return hi * 64 + (lo >> 2)
}
