import { execFileSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { Implementation, TestFn } from 'ava'
import { isCI } from '../../src/cli/ci-env.js'
import { labAvailable, nftAvailable } from '../../src/lab/lab.js'
import { findExecutable, wireguardAvailable } from '../../src/mesh/wg-command.js'
import { findStaticBusybox } from '../../src/vmm/accel-probe.js'
import { KERNEL_BUILD_PACKAGES, missingKernelBuildTools } from '../../src/vmm/image/kernel-build.js'
import { qemuAvailable } from '../../src/vmm/qemu-driver.js'

export { isCI }

/** Debian's chromium, the one browser tests drive. */
export const CHROMIUM = '/usr/bin/chromium'

/**
 * A system part a test needs. `netem` is a kernel feature no package installs: files branch on
 * it (see test/lab/lab.test.ts) rather than requiring it.
 */
export type Part =
  | 'root' | 'qemu' | 'debian-tools' | 'kernel-build-tools' | 'busybox-static'
  | 'wireguard' | 'wg' | 'lab' | 'nft' | 'netem' | 'ping' | 'cpio' | 'xz' | 'curl' | 'openssl' | 'wrk' | 'chromium' | 'systemd-analyze' | 'pebble'

/** What a file's tests need and which of it is missing (one reason a part), decided at load time. */
export interface Requirements {
  readonly parts: readonly Part[]
  /** Why each missing part is missing; empty when everything is here. */
  readonly missing: readonly string[]
  readonly ok: boolean
}

/** Whether `cmd` is an executable on this process's PATH. */
export function onPath (cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    try {
      accessSync(join(dir, cmd), constants.X_OK)
      return true
    } catch {}
  }
  return false
}

function command (cmd: string, pkg: string): () => string | undefined {
  return () => onPath(cmd) ? undefined : `\`${cmd}\` not on PATH (apt-get install ${pkg})`
}

/** Whether the kernel has the netem qdisc: tried on the loopback of a throwaway namespace (root only). */
function netemMissing (): string | undefined {
  if (process.getuid?.() !== 0) return 'probing netem needs root'
  try {
    execFileSync('unshare', ['--net', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { stdio: 'pipe', timeout: 10_000, env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } })
    return undefined
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim()
    return `the kernel has no netem qdisc (sch_netem)${stderr === '' ? '' : `: ${stderr}`}`
  }
}

const PROBES: Record<Part, () => Promise<string | undefined> | string | undefined> = {
  root: () => process.getuid?.() === 0 ? undefined : 'needs root',
  qemu: async () => (await qemuAvailable()).ok ? undefined : 'qemu-system-x86_64 not installed (apt-get install qemu-system-x86)',
  'debian-tools': () => {
    const gone = ['apt-get', 'apt-cache', 'dpkg-deb'].filter(c => !onPath(c))
    return gone.length === 0 ? undefined : `image builds need Debian's ${gone.join(', ')}`
  },
  'kernel-build-tools': async () => {
    const gone = await missingKernelBuildTools()
    return gone.length === 0 ? undefined : `kernel build tools missing: ${gone.join(', ')} (apt-get install ${KERNEL_BUILD_PACKAGES.join(' ')})`
  },
  'busybox-static': async () => await findStaticBusybox() !== null ? undefined : 'no static busybox (apt-get install busybox-static)',
  wireguard: () => { const a = wireguardAvailable(); return a.ok ? undefined : a.reason },
  wg: () => findExecutable('wg') !== null ? undefined : '`wg` not found (apt-get install wireguard-tools)',
  lab: () => { const a = labAvailable(); return a.ok ? undefined : a.reason },
  nft: () => nftAvailable() ? undefined : '`nft` not found (apt-get install nftables)',
  netem: netemMissing,
  ping: command('ping', 'iputils-ping'),
  cpio: command('cpio', 'cpio'),
  xz: command('xz', 'xz-utils'),
  curl: command('curl', 'curl'),
  openssl: command('openssl', 'openssl'),
  wrk: command('wrk', 'wrk'),
  // Debian's browser, driven through playwright-core; never a downloaded one.
  chromium: () => { try { accessSync(CHROMIUM, constants.X_OK); return undefined } catch { return `${CHROMIUM} not found (apt-get install chromium)` } },
  'systemd-analyze': command('systemd-analyze', 'systemd'),
  pebble: command('pebble', 'pebble')
}

const probed = new Map<Part, Promise<string | undefined>>()

/** Probes each part once per process and says what is missing. */
export async function checkParts (parts: readonly Part[]): Promise<Requirements> {
  const reasons = await Promise.all(parts.map(async p => {
    let r = probed.get(p)
    if (r === undefined) {
      r = Promise.resolve(PROBES[p]())
      probed.set(p, r)
    }
    return await r
  }))
  const missing = reasons.filter((r): r is string => r !== undefined)
  return { parts, missing, ok: missing.length === 0 }
}

type Declare<C> = (title: string, impl: Implementation<[], C>) => void

/** Tests (and hooks) that run only where their parts are present; see {@link requireParts}. */
export interface GatedTests<C> extends Requirements {
  /** A concurrent test. */
  (title: string, impl: Implementation<[], C>): void
  /** A serial test. */
  serial: Declare<C>
  /** A before hook, registered only where nothing is missing. */
  before: (impl: Implementation<[], C>) => void
  /** An after.always hook, registered only where nothing is missing. */
  afterAlways: (impl: Implementation<[], C>) => void
}

/**
 * Declares tests that need `parts`. Everything present: plain tests. Something missing outside
 * CI: `test.skip`, the title saying why, so a local run counts them as skipped. Something missing
 * under CI (any truthy `CI`): the test is declared and fails, naming what is missing.
 */
export function gateTests<C> (test: TestFn<C>, req: Requirements): GatedTests<C> {
  const why = req.missing.join('; ')
  const declare = (plain: Declare<C>, skip: Declare<C>): Declare<C> => (title, impl) => {
    if (req.ok) plain(title, impl)
    else if (isCI()) plain(title, t => { t.fail(`required under CI, but missing: ${why}`) })
    else skip(`${title} (skipped: ${why})`, impl)
  }
  const gated = declare((title, impl) => { test(title, impl) }, (title, impl) => { test.skip(title, impl) })
  return Object.assign(gated, req, {
    serial: declare((title, impl) => { test.serial(title, impl) }, (title, impl) => { test.serial.skip(title, impl) }),
    before: (impl: Implementation<[], C>) => { if (req.ok) test.before(impl) },
    afterAlways: (impl: Implementation<[], C>) => { if (req.ok) test.after.always(impl) }
  })
}

/** {@link checkParts} then {@link gateTests}: `const rootTest = await requireParts(test, ['root'])`. */
export async function requireParts<C> (test: TestFn<C>, parts: readonly Part[]): Promise<GatedTests<C>> {
  return gateTests(test, await checkParts(parts))
}
