import { ip } from './ip-command.js'
import { addressesFor } from './netns-addresses.js'
import type { Netns } from './netns.js'

/** A tap device inside a machine's namespace, for a VM's NIC (qemu `-netdev tap,ifname=…`). */
export interface Tap {
  /** The tap's name inside the namespace. */
  name: string
  netns: string
  /** The namespace end of the tap /30: the guest's gateway. */
  tapAddress: string
  /** The guest's address; the host reaches it through the namespace. */
  guestAddress: string
  guestMac: string
  prefixLength: 30
}

/**
 * Creates tap `name` in `ns` with the tap /30 of `ns.index` (namespace end .1, guest .2),
 * enables forwarding in the namespace, adds a permanent neighbour entry for the guest's fixed MAC
 * (saves ARP retries while the guest boots) and a host route to the guest /30 via the
 * namespace's veth address. Removing the namespace (NetnsAllocator.remove) removes all of it.
 */
export async function createTap (ns: Netns, name: string): Promise<Tap> {
  const a = addressesFor(ns.index)
  await ip(['-n', ns.name, 'tuntap', 'add', 'dev', name, 'mode', 'tap'])
  await ip(['-n', ns.name, '-batch', '-'], [
    `addr add ${a.tapAddress}/30 dev ${name}`,
    `link set ${name} up`,
    `neigh replace ${a.guestAddress} lladdr ${a.guestMac} dev ${name} nud permanent`
  ].join('\n') + '\n')
  await ip(['netns', 'exec', ns.name, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
  await ip(['route', 'replace', a.guestNetwork, 'via', ns.nsAddress, 'dev', ns.hostIf])
  return { name, netns: ns.name, tapAddress: a.tapAddress, guestAddress: a.guestAddress, guestMac: a.guestMac, prefixLength: 30 }
}
