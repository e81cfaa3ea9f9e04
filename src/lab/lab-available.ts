import { accessSync, constants, existsSync } from 'node:fs'
import { findTool } from './lab-exec.js'

const NETNS_DIR = '/var/run/netns'

/** Whether this process can build a lab: root, iproute2's `ip`, and a writable /var/run/netns. */
export function labAvailable (): { ok: true } | { ok: false, reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'the network-namespace lab needs root' }
  if (findTool('ip') === undefined) return { ok: false, reason: 'iproute2 `ip` not found' }
  // `ip netns add` creates /var/run/netns when it is missing.
  const dir = existsSync(NETNS_DIR) ? NETNS_DIR : '/var/run'
  try {
    accessSync(dir, constants.W_OK)
  } catch {
    return { ok: false, reason: `${dir} is not writable` }
  }
  return { ok: true }
}

/** Whether nftables' `nft` is installed (packet loss in {@link Lab.impair} needs it). */
export function nftAvailable (): boolean {
  return findTool('nft') !== undefined
}
