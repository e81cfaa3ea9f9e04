import { VmmError } from '../errors/errors.js'
import type { Endpoint, GuestSpec } from './driver.js'
import { createTap, type NetnsAllocator } from './netns.js'
import type { QemuNet } from './qemu-args.js'
import { USER_NET, type GuestNet } from './qemu-initrd.js'

/** The tap's name inside the machine's own namespace. */
const TAP_NAME = 'tap0'

/** How one QEMU is wired: its NIC, the guest's addresses, where the host reaches it. */
export interface QemuNetwork {
  net: QemuNet
  guest: GuestNet
  endpoint: Endpoint
  /** Runs QEMU inside the namespace. */
  wrapper?: string[]
  netns?: string
  /** Undoes what was set up (removes the namespace). Idempotent. */
  release: () => Promise<void>
}

/**
 * Sets up the network of one VM. `forward`: QEMU user networking, nothing to create.
 * `namespace` (root): a namespace per machine with a tap inside; the guest gets the tap /30's
 * address and is reached at it from the host.
 */
export async function prepareQemuNetwork (spec: GuestSpec, netns: NetnsAllocator | undefined): Promise<QemuNetwork> {
  if (spec.network.mode === 'forward') {
    return {
      net: { mode: 'user', hostPort: spec.network.hostPort, guestPort: spec.guestPort },
      guest: USER_NET,
      endpoint: { host: '127.0.0.1', port: spec.network.hostPort },
      release: async () => {}
    }
  }
  if (netns === undefined) throw new VmmError('namespace networking needs a netns allocator (the agent runs as root)', { machineId: spec.machineId })
  const ns = await netns.create(spec.machineId)
  try {
    const tap = await createTap(ns, TAP_NAME)
    return {
      net: { mode: 'tap', ifname: tap.name, mac: tap.guestMac },
      guest: { ip: `${tap.guestAddress}/${tap.prefixLength}`, gw: tap.tapAddress },
      endpoint: { host: tap.guestAddress, port: spec.guestPort },
      wrapper: ['ip', 'netns', 'exec', ns.name],
      netns: ns.name,
      release: async () => { await netns.remove(ns.name) }
    }
  } catch (err) {
    await netns.remove(ns.name)
    throw err instanceof VmmError ? err : new VmmError(`tap for ${spec.machineId}: ${(err as Error).message}`, { machineId: spec.machineId })
  }
}
