import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MeshError } from '../../src/errors/errors.js'
import { isMeshAddress, meshAddress, meshPrefix } from '../../src/mesh/mesh-address.js'
import type { WireguardInterfaceInit } from '../../src/mesh/wireguard-interface.js'

const STATE_FILE = 'wireguard.json'

/** What a host keeps of its tunnel end across restarts (data dir's wireguard.json). */
export interface SavedState { salt: number, listenPort: number, faultAddress?: string }

export async function readState (dataDir: string): Promise<SavedState> {
  try {
    const v = JSON.parse(await readFile(join(dataDir, STATE_FILE), 'utf8')) as { salt?: unknown, listenPort?: unknown, faultAddress?: unknown }
    return {
      salt: Number.isInteger(v.salt) ? v.salt as number : 0,
      listenPort: Number.isInteger(v.listenPort) ? v.listenPort as number : 0,
      ...(typeof v.faultAddress === 'string' ? { faultAddress: v.faultAddress } : {})
    }
  } catch {
    return { salt: 0, listenPort: 0 }
  }
}

export async function writeState (dataDir: string, state: SavedState): Promise<void> {
  await writeFile(join(dataDir, STATE_FILE), JSON.stringify(state) + '\n', { mode: 0o600 })
}

/**
 * This host's mesh address for its salt: its key's hash, or (tests with faults on, salt 0) the
 * `faultAddress` it was given (`forced`). A forced address outside the cluster's prefix is a MeshError.
 */
export function addressFor (cluster: string, publicKey: string, state: SavedState, faults: boolean): { address: string, forced: boolean } {
  const forced = state.faultAddress
  if (!faults || forced === undefined || state.salt !== 0) return { address: meshAddress(cluster, publicKey, state.salt), forced: false }
  if (!isMeshAddress(cluster, forced)) throw new MeshError(`faultAddress ${forced} is not in the cluster's mesh prefix ${meshPrefix(cluster)}`)
  return { address: forced, forced: true }
}

/** This host's interface: its key, the port it used last (else the configured one, else any), its address, the cluster's prefix routed in. */
export function interfaceInit (cluster: string, ifname: string, privateKey: string, saved: SavedState, address: string, configuredPort: number | undefined): WireguardInterfaceInit {
  return { ifname, privateKey, listenPort: saved.listenPort !== 0 ? saved.listenPort : (configuredPort ?? 0), address, routePrefix: meshPrefix(cluster) }
}
