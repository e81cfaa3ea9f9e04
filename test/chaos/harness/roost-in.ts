import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { labPath } from '../../../src/lab/lab-exec.js'
import { ipTool } from '../../../src/lab/lab-network.js'
import type { LabHost } from '../../../src/lab/lab.js'
import { BIN } from '../../helpers/cli.js'
import { ECHO_APP_DIR } from '../../helpers/router-lab.js'
import type { BurstReport, BurstSpec } from './burst-client.js'

/** A `roost` command running in a lab host's namespace, its output read as it comes. */
export interface RunningRoost {
  readonly pid: number
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the exit code once it has ended. */
  readonly exited: Promise<number | null>
  kill: () => void
}

/** Starts `roost <args>` inside `h`'s namespace without waiting for it. */
export function spawnRoostIn (h: LabHost, args: string[]): RunningRoost {
  const child = spawn(ipTool(), ['netns', 'exec', h.netns, process.execPath, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: labPath() } })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8') })
  child.stderr.on('data', (b: Buffer) => { err += b.toString('utf8') })
  const exited = new Promise<number | null>(resolve => { child.once('exit', code => { resolve(code) }) })
  return {
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill () { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }
  }
}

/** The arguments of `roost deploy` of the router-echo app with one of its configs, through `h`. */
export function deployArgs (h: LabHost, config: string, extra: string[]): string[] {
  return ['deploy', ECHO_APP_DIR, '--config', join(ECHO_APP_DIR, config), '--data-dir', h.dataDir, '--kernel', 'distribution', '--wait-timeout', '90', '--json', ...extra]
}

const BURST_CLIENT = fileURLToPath(new URL('./burst-client.ts', import.meta.url))

/** Runs test/chaos/harness/burst-client.ts in `h`'s namespace (creates at once, then kill -9 of `spec.killPid`). */
export async function burstIn (h: LabHost, spec: BurstSpec): Promise<BurstReport> {
  const child = spawn(ipTool(), ['netns', 'exec', h.netns, process.execPath, '--import', 'tsx', BURST_CLIENT, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: labPath() } })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8') })
  child.stderr.on('data', (b: Buffer) => { err += b.toString('utf8') })
  const code = await new Promise<number | null>(resolve => { child.once('exit', c => { resolve(c) }) })
  if (code !== 0) throw new Error(`the burst client exited with ${String(code)}: ${err.slice(-2000)}`)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as BurstReport
}
