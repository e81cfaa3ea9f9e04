import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { MachineView } from '../../src/api/machines/schemas.js'
import { exited } from '../../src/cli/local-cluster.js'
import { silentLogger } from '../../src/log/logger.js'
import { cloneEnv, loadWarmSnapshot, sendCloneIdentity } from '../../src/vmm/clone-launch.js'
import { USER_NET } from '../../src/vmm/qemu-initrd.js'
import { connectQmp, type QmpClient } from '../../src/vmm/qmp-client.js'
import { firstAnswer, until } from './boot-probe.js'
import { progress } from './report.js'

// The raw peers of the boot bench: the very QEMU command line the agent ran (read from /proc),
// moved to a scratch dir and another host port, started by the bench itself with no agent, and
// timed with the same probe. One at a time: the caller has stopped the agent's VM first.

/** The QEMU pid of a machine, from its launch event. */
export function pidOf (m: MachineView): number {
  return Number(/pid (\d+)/.exec(m.events.find(e => e.type === 'launch')?.message ?? '')?.[1] ?? NaN)
}

/** A process's argv. */
export async function cmdlineOf (pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(s => s.length > 0)
}

/** How the raw VM starts, as the agent's did. */
export type RawStart =
  | { kind: 'cold' }
  /** `-incoming` from a copy of the machine's suspend snapshot, then `cont`. */
  | { kind: 'resume', snapshot: string }
  /** `-incoming defer` kept; the warm snapshot's state loaded over QMP, then the identity sent. */
  | { kind: 'clone', statePath: string }

export interface RawRunInit {
  /** The agent's QEMU argv (argv[0] is the binary). */
  argv: string[]
  /** Scratch dir for the console log, QMP and identity sockets (and the initrd copy). */
  dir: string
  port: number
  /** Use `<dir>/initrd.img` (a copy of the machine's own, which goes with the machine). */
  movedInitrd: boolean
  start: RawStart
}

/** The agent's argv with the machine's paths and port replaced by the raw run's. */
export function rawArgs (init: RawRunInit): string[] {
  const { dir, port } = init
  const out = init.argv.slice(1).map(a => a
    .replace(/hostfwd=tcp:127\.0\.0\.1:\d+-/, `hostfwd=tcp:127.0.0.1:${port}-`)
    .replace(/path=[^,]*console\.log/, `path=${join(dir, 'console.log')}`)
    .replace(/unix:[^,]*qmp\.sock/, `unix:${join(dir, 'qmp.sock')}`)
    .replace(/path=[^,]*\/id\.sock/, `path=${join(dir, 'id.sock')}`)
    .replace(/^.*\/initrd\.img$/, init.movedInitrd ? join(dir, 'initrd.img') : '$&')
  )
  if (init.start.kind === 'resume') {
    const i = out.indexOf('-incoming')
    if (i < 0) throw new Error('raw resume: the agent\'s QEMU had no -incoming')
    out[i + 1] = `exec:cat ${init.start.snapshot}`
  }
  return out
}

/** The guest's port from the agent's `hostfwd=tcp:127.0.0.1:H-:G`. */
function guestPortOf (argv: string[]): number {
  const port = Number(/hostfwd=tcp:127\.0\.0\.1:\d+-:(\d+)/.exec(argv.join(' '))?.[1])
  if (!Number.isInteger(port)) throw new Error('raw run: no user-network port forward in the agent\'s QEMU command line')
  return port
}

/** Starts the raw VM and times it to the guest's first HTTP answer (QEMU spawn → answer); kills it after. */
export async function rawRun (init: RawRunInit): Promise<number> {
  const args = rawArgs(init)
  const t0 = performance.now()
  const child = spawn(init.argv[0] as string, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
  let qmp: QmpClient | undefined
  try {
    const phases: Record<string, number> = {}
    if (init.start.kind !== 'cold') {
      qmp = await until(async () => await connectQmp({ socketPath: join(init.dir, 'qmp.sock') }, { logger: silentLogger() }).catch(() => undefined), 'raw QMP')
      phases.qmp = performance.now() - t0
    }
    if (init.start.kind === 'resume' && qmp !== undefined) {
      const q = qmp
      await until(async () => (await q.execute<{ status: string }>('query-status')).status !== 'inmigrate', 'raw incoming migration')
      phases.loaded = performance.now() - t0
      await q.execute('cont')
    }
    if (init.start.kind === 'clone' && qmp !== undefined) {
      await loadWarmSnapshot(qmp, init.start.statePath)
      phases.loaded = performance.now() - t0
      const env = { PORT: String(guestPortOf(init.argv)), ROOST_MACHINE_ID: 'raw-clone', ROOST_IP: USER_NET.ip, ROOST_GW: USER_NET.gw, ...(USER_NET.dns === undefined ? {} : { ROOST_DNS: USER_NET.dns }) }
      await sendCloneIdentity(join(init.dir, 'id.sock'), cloneEnv(env, { mode: 'user', hostPort: init.port, guestPort: guestPortOf(init.argv) }))
      phases.identified = performance.now() - t0
    }
    qmp?.close()
    qmp = undefined
    await firstAnswer(init.port)
    const ms = performance.now() - t0
    if (init.start.kind !== 'cold') progress(`  raw ${init.start.kind} phases: ${Object.entries(phases).map(([k, v]) => `${k} ${Math.round(v)} ms`).join(', ')}, HTTP ${Math.round(ms)} ms`)
    return ms
  } catch (err) {
    throw new Error(`raw qemu (${init.start.kind}): ${(err as Error).message}; its stderr: ${stderr.trim() || '(empty)'}; args: ${args.join(' ')}`)
  } finally {
    qmp?.close()
    child.kill('SIGKILL')
    await exited(child, 5_000)
  }
}

/** Resolves when `pid` has exited (gone, or a zombie): the agent's VM no longer runs beside the next sample. */
export async function vmGone (pid: number): Promise<void> {
  await until(async () => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
    return stat === null || stat.split(') ')[1]?.startsWith('Z') === true
  }, `QEMU ${pid} to exit`)
}
