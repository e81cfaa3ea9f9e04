import { randomBytes } from 'node:crypto'
import { VmmError } from '../errors/errors.js'
import { openIdentityChannel } from './clone-channel.js'
import { identityLine } from './clone-guest.js'
import { IGNORE_SHARED } from './clone-qemu-args.js'
import type { QemuNet } from './qemu-args.js'
import { shellQuote } from './qemu-args.js'
import type { QmpClient } from './qmp-client.js'

const LOAD_TIMEOUT_MS = 60_000
const LOAD_POLL_MS = 5
const IDENTITY_TIMEOUT_MS = 30_000

/**
 * Loads a warm snapshot's device state into a QEMU started with `-incoming defer` (its RAM is
 * the template's file, mapped private), turns `x-ignore-shared` off again (a later suspend of
 * this VM must carry its RAM) and runs the guest.
 */
export async function loadWarmSnapshot (qmp: QmpClient, statePath: string): Promise<void> {
  await qmp.execute('migrate-set-capabilities', IGNORE_SHARED)
  await qmp.execute('migrate-incoming', { uri: `exec:cat ${shellQuote(statePath)}` })
  const deadline = Date.now() + LOAD_TIMEOUT_MS
  for (;;) {
    const st = await qmp.execute<{ status: string }>('query-status')
    if (st.status !== 'inmigrate') {
      if (st.status !== 'paused' && st.status !== 'running' && st.status !== 'postmigrate') throw new VmmError(`warm snapshot did not load: the VM is ${st.status}`)
      break
    }
    if (Date.now() > deadline) throw new VmmError(`warm snapshot not loaded within ${LOAD_TIMEOUT_MS} ms`)
    await new Promise(resolve => setTimeout(resolve, LOAD_POLL_MS))
  }
  await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: false }] })
  const st = await qmp.execute<{ status: string }>('query-status')
  if (st.status !== 'running') await qmp.execute('cont')
}

/**
 * What a clone is told besides the machine's own env: the time (the snapshot's clock is stale),
 * fresh randomness (clones share the template's entropy pool) and, on a tap, the MAC the host's
 * neighbour entry expects.
 */
export function cloneEnv (env: Record<string, string>, net: QemuNet): Record<string, string> {
  return {
    ...env,
    ROOST_CLONE_NOW: String(Math.floor(Date.now() / 1000)),
    ROOST_CLONE_SEED: randomBytes(32).toString('hex'),
    ...(net.mode === 'tap' && net.mac !== undefined ? { ROOST_MAC: net.mac } : {})
  }
}

/** Gives a restored clone its identity over its identity socket (the guest waits for it in /init). */
export async function sendCloneIdentity (socketPath: string, env: Record<string, string>, signal?: AbortSignal): Promise<void> {
  const channel = await openIdentityChannel(socketPath, signal)
  try {
    await channel.sendIdentity(identityLine(env), IDENTITY_TIMEOUT_MS)
  } finally {
    channel.close()
  }
}
