import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ExecutionContext } from 'ava'
import { startLocalCluster, type LocalCluster } from '../../src/cli/local-cluster.js'

export const BIN = fileURLToPath(new URL('../../bin/roost.js', import.meta.url))

export interface CliResult { code: number, stdout: string, stderr: string }

/** Runs `roost <args>` as a child process and collects its output. */
export async function roost (args: string[], opts: { timeoutMs?: number, env?: Record<string, string>, cwd?: string } = {}): Promise<CliResult> {
  return await new Promise(resolve => {
    execFile(process.execPath, [BIN, ...args], { timeout: opts.timeoutMs ?? 30_000, env: { ...process.env, ...opts.env }, ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }) }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

export async function tempDir (t: ExecutionContext, prefix = 'roost-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  // ROOST_KEEP_LAB_DIR=1 keeps it (agent logs) for a look after a failure.
  if (process.env.ROOST_KEEP_LAB_DIR !== '1') t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  return dir
}

/** A DHT bootstrap and N real agent processes, stopped in teardown. */
export async function localCluster (t: ExecutionContext, hosts: number, opts: { logLevel?: string, env?: Record<string, string> } = {}): Promise<LocalCluster> {
  const dir = await tempDir(t, 'roost-cluster-')
  const cluster = await startLocalCluster({ binPath: BIN, hosts, dir, logLevel: opts.logLevel ?? 'debug', ...(opts.env === undefined ? {} : { env: opts.env }) })
  t.teardown(async () => { await cluster.stop() })
  return cluster
}
