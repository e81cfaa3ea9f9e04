import { randomBytes } from 'node:crypto'
import { appendFile, copyFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { GUEST_ENV_FILE } from './image/manifest.js'
import { createCpioGz, S_IFDIR, S_IFREG, shellEnvFile } from './image/cpio.js'
import type { GuestSpec } from './driver.js'

/** The guest's network settings, as /init reads them (ROOST_IP, ROOST_GW, ROOST_DNS). */
export interface GuestNet {
  /** Address with prefix length, e.g. `10.0.2.15/24`. */
  ip: string
  gw: string
  dns?: string
}

/** QEMU user-mode networking's fixed 10.0.2.0/24: guest .15, gateway .2, DNS .3. */
export const USER_NET: GuestNet = { ip: '10.0.2.15/24', gw: '10.0.2.2', dns: '10.0.2.3' }

/** The environment /init gives the app: the user's, then what roost sets (which wins). */
export function guestEnv (spec: GuestSpec, net: GuestNet): Record<string, string> {
  return {
    ...spec.env,
    PORT: String(spec.guestPort),
    ROOST_MACHINE_ID: spec.machineId,
    ROOST_IP: net.ip,
    ROOST_GW: net.gw,
    ...(net.dns === undefined ? {} : { ROOST_DNS: net.dns })
  }
}

/** The per-machine layer: a gzip'd cpio holding /etc/roost/env. */
export function machineLayer (env: Record<string, string>): Buffer {
  const file = GUEST_ENV_FILE.replace(/^\/+/, '')
  const parts = file.split('/')
  const dirs = parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'))
  return createCpioGz([
    ...dirs.map(path => ({ path, mode: S_IFDIR | 0o755 })),
    { path: file, mode: S_IFREG | 0o600, data: Buffer.from(shellEnvFile(env)) }
  ])
}

/**
 * Writes `<dir>/initrd.img`: the image's initrd followed by the per-machine layer. Written to a
 * temporary name and renamed, so a QEMU never reads a half-written one.
 */
export async function writeMachineInitrd (spec: GuestSpec, env: Record<string, string>): Promise<string> {
  const target = join(spec.dir, 'initrd.img')
  const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await copyFile(join(spec.imageDir, spec.image.initrd), tmp)
    await appendFile(tmp, machineLayer(env))
    await rename(tmp, target)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  return target
}
