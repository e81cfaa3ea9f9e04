import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, constants as fsConstants, existsSync, openSync } from 'node:fs'
import { access, mkdir, open, rm } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { VmmError } from '../errors/errors.js'
import type { Logger } from '../log/logger.js'
import type { GuestSpec, RuntimeRecord, VmDriver, VmHandle } from './driver.js'
import { createNetnsAllocator, type Netns, type NetnsAllocator } from './netns.js'
import { isSameProcess, readStartTicks } from './proc-info.js'
import { createProcessHandle } from './process-handle.js'

export const CONSOLE_LOG = 'console.log'
export const DEFAULT_LOG_BYTES = 64 * 1024
/** Taken from the agent's environment unless the init says otherwise; the user's env wins over them (TMPDIR is the machine's own, {@link MACHINE_TMP}). */
export const DEFAULT_INHERITED_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ']
const DEFAULT_NETNS_PREFIX = 'p'

export interface ProcessDriverInit {
  /** Prefix of this driver's namespaces when it makes its own allocator (see NetnsAllocatorInit). */
  netnsPrefix?: string
  /** Default of `stop`'s timeout (10 s). */
  stopTimeoutMs?: number
  /** How often an adopted app is looked for in /proc. */
  pollIntervalMs?: number
  /** Names of the agent's environment variables the app gets. */
  inheritEnv?: string[]
}

export interface ProcessDriverComponents {
  logger: Logger
  /** Namespaces for `namespace` networking; one with `netnsPrefix` is made on first use unless given. */
  netns?: NetnsAllocator
}

function isRoot (): boolean {
  return process.getuid?.() === 0
}

function ipBinary (): string {
  return ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find(p => existsSync(p)) ?? 'ip'
}

/**
 * Runs an image's app directly on the host (no VM): `<imageDir>/<app>/run` in its own process
 * group, output appended to `<dir>/console.log`. For development and tests, and hosts without
 * a usable QEMU. It cannot suspend.
 */
export function createProcessDriver (init: ProcessDriverInit, components: ProcessDriverComponents): VmDriver {
  const log = components.logger.child({ driver: 'process' })
  let allocator = components.netns

  const netns = (): NetnsAllocator => {
    allocator ??= createNetnsAllocator({ prefix: init.netnsPrefix ?? DEFAULT_NETNS_PREFIX }, { logger: components.logger })
    return allocator
  }

  const removeNetns = (name: string) => async (): Promise<void> => { await netns().remove(name) }

  function appEnv (spec: GuestSpec, port: number, ns: Netns | undefined): Record<string, string> {
    const env: Record<string, string> = {}
    for (const name of init.inheritEnv ?? DEFAULT_INHERITED_ENV) {
      const v = process.env[name]
      if (v !== undefined) env[name] = v
    }
    Object.assign(env, { TMPDIR: join(spec.dir, MACHINE_TMP) }, spec.env, { PORT: String(port), ROOST_MACHINE_ID: spec.machineId })
    if (ns !== undefined) Object.assign(env, { ROOST_IP: `${ns.nsAddress}/30`, ROOST_GW: ns.hostAddress })
    return env
  }

  async function start (spec: GuestSpec): Promise<VmHandle> {
    const appDir = resolve(spec.imageDir, spec.image.app)
    const run = join(appDir, 'run')
    try {
      await access(run, fsConstants.X_OK)
    } catch {
      throw new VmmError(`the image has no executable ${run}`, { machineId: spec.machineId })
    }
    await freshTmp(spec.dir).catch((err: Error) => { throw new VmmError(`cannot make the machine's TMPDIR: ${err.message}`, { machineId: spec.machineId }) })
    let ns: Netns | undefined
    let endpoint: { host: string, port: number }
    if (spec.network.mode === 'forward') {
      endpoint = { host: '127.0.0.1', port: spec.network.hostPort }
    } else {
      if (!isRoot()) throw new VmmError('namespace networking needs root', { machineId: spec.machineId })
      ns = await netns().create(spec.machineId)
      endpoint = { host: ns.nsAddress, port: spec.guestPort }
    }
    const consoleLog = join(spec.dir, CONSOLE_LOG)
    let child: ChildProcess
    let pidStartTicks: number | null = null
    try {
      const fd = openSync(consoleLog, 'a')
      try {
        const [cmd, args] = ns === undefined ? [run, []] : [ipBinary(), ['netns', 'exec', ns.name, run]]
        child = spawn(cmd, args, { cwd: appDir, env: appEnv(spec, endpoint.port, ns), detached: true, stdio: ['ignore', fd, fd] })
      } finally {
        closeSync(fd)
      }
      // Read before the event loop turns: until then the child cannot have been reaped.
      if (child.pid !== undefined) pidStartTicks = readStartTicks(child.pid)
      const spawnError = await new Promise<Error | undefined>(resolve => {
        child.once('spawn', () => { resolve(undefined) })
        child.once('error', resolve)
      })
      if (spawnError !== undefined || child.pid === undefined || pidStartTicks === null) {
        throw new VmmError(`could not start ${run}: ${spawnError?.message ?? 'no pid'}`, { machineId: spec.machineId })
      }
    } catch (err) {
      if (ns !== undefined) await netns().remove(ns.name).catch(() => {})
      throw err
    }
    child.on('error', (err) => { log.warn({ err, machineId: spec.machineId }, 'app process error') })
    const record: RuntimeRecord = {
      driver: 'process',
      pid: child.pid,
      pidStartTicks,
      endpoint,
      ...(ns === undefined ? {} : { netns: ns.name, extra: { netnsIndex: ns.index } })
    }
    log.info({ machineId: spec.machineId, pid: record.pid, endpoint, netns: ns?.name }, 'app started')
    return createProcessHandle({
      record,
      child,
      consoleLog,
      ...(ns === undefined ? {} : { cleanup: removeNetns(ns.name) }),
      ...(init.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: init.stopTimeoutMs })
    }, { logger: log.child({ machineId: spec.machineId }) })
  }

  async function adopt (spec: GuestSpec, record: RuntimeRecord): Promise<VmHandle | null> {
    if (record.driver !== 'process') throw new VmmError(`cannot adopt a ${record.driver} machine with the process driver`, { machineId: spec.machineId })
    if (!isSameProcess(record.pid, record.pidStartTicks)) {
      if (record.netns !== undefined) await netns().remove(record.netns).catch((err: unknown) => { log.warn({ err, netns: record.netns }, 'could not remove the namespace of a gone app') })
      return null
    }
    log.info({ machineId: spec.machineId, pid: record.pid }, 'app adopted')
    return createProcessHandle({
      record,
      consoleLog: join(spec.dir, CONSOLE_LOG),
      ...(record.netns === undefined ? {} : { cleanup: removeNetns(record.netns) }),
      ...(init.stopTimeoutMs === undefined ? {} : { stopTimeoutMs: init.stopTimeoutMs }),
      ...(init.pollIntervalMs === undefined ? {} : { pollIntervalMs: init.pollIntervalMs })
    }, { logger: log.child({ machineId: spec.machineId }) })
  }

  return {
    kind: 'process',
    describe: () => 'process',
    start,
    resume: async () => { throw new VmmError('the process driver cannot resume (it cannot suspend)') },
    adopt,
    logs: async (spec, maxBytes = DEFAULT_LOG_BYTES) => await readTail(join(spec.dir, CONSOLE_LOG), maxBytes)
  }
}

/**
 * A machine's temporary directory under the process driver (its TMPDIR, unless its env sets
 * one): inside the machine's own directory, so it goes when the machine is destroyed, and made
 * afresh at every start, like a guest's /tmp. An app killed outright (SIGKILL, a lost host) leaves
 * nothing behind in the host's /tmp.
 */
export const MACHINE_TMP = 'tmp'

async function freshTmp (machineDir: string): Promise<void> {
  const tmp = join(machineDir, MACHINE_TMP)
  await rm(tmp, { recursive: true, force: true })
  await mkdir(tmp, { recursive: true, mode: 0o700 })
}

/** The last `maxBytes` of a file as UTF-8 ('' when it does not exist). */
export async function readTail (path: string, maxBytes: number): Promise<string> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw err
  }
  try {
    const { size } = await fh.stat()
    const length = Math.min(size, Math.max(0, maxBytes))
    const buf = Buffer.alloc(length)
    await fh.read(buf, 0, length, size - length)
    return buf.toString('utf8')
  } finally {
    await fh.close()
  }
}
