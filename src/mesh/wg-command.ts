import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { join } from 'node:path'
import { MeshError } from '../errors/errors.js'

/** Where `wg` and `wireguard-go` are looked up besides PATH (non-login shells may lack /usr/sbin). */
const EXTRA_PATH = ['/usr/sbin', '/usr/bin', '/sbin', '/bin']
export const WG_TIMEOUT_MS = 10_000
export const TUN_DEVICE = '/dev/net/tun'

/** PATH with the system binary directories appended. */
export function wgPath (): string {
  return [...(process.env.PATH ?? '').split(':').filter(d => d !== ''), ...EXTRA_PATH].join(':')
}

/** The full path of an executable on {@link wgPath}, or null. */
export function findExecutable (name: string): string | null {
  for (const dir of wgPath().split(':')) {
    try {
      accessSync(join(dir, name), constants.X_OK)
      return join(dir, name)
    } catch {}
  }
  return null
}

/**
 * Runs `wg ARGS…` (input, if given, on stdin: keys and configs go there, never on argv) and
 * resolves with stdout. A failure or a run over 10 s rejects with a MeshError carrying the
 * args and wg's stderr.
 */
export async function wg (args: string[], input?: string): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const child = execFile('wg', args, { env: { ...process.env, PATH: wgPath() }, timeout: WG_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) {
        resolve(stdout)
        return
      }
      const text = stderr.trim() === '' ? err.message : stderr.trim()
      reject(new MeshError(`wg ${args.join(' ')}: ${text}`, { args, stderr: stderr.trim(), code: err.code, killed: err.killed }))
    })
    child.stdin?.on('error', () => {})
    child.stdin?.end(input ?? '')
  })
}

/** Whether this process can run userspace WireGuard: root, `wireguard-go` and `wg`, /dev/net/tun. */
export function wireguardAvailable (): { ok: true } | { ok: false, reason: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root (wireguard-go needs CAP_NET_ADMIN and /var/run/wireguard)' }
  for (const bin of ['wireguard-go', 'wg']) {
    if (findExecutable(bin) === null) return { ok: false, reason: `${bin} not found on PATH (apt-get install wireguard-go wireguard-tools)` }
  }
  try {
    accessSync(TUN_DEVICE, constants.R_OK | constants.W_OK)
  } catch {
    return { ok: false, reason: `${TUN_DEVICE} is missing or not accessible` }
  }
  return { ok: true }
}
