import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { exited, freeUdpPort } from '../src/cli/local-cluster.js'
import { createDhtBootstrap } from '../src/dht/bootstrap.js'
import { createLogger } from '../src/log/logger.js'
import { exitedCleanly, firstJsonLine, spawnDispatchProcess, type ReceiverReady } from './helpers/dispatch-processes.js'
import { progress, report } from './helpers/report.js'

const HOSTS = Number(process.env.BENCH_HOSTS ?? 5)
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000)
/** Membership log lines that mean some host looked dead to another during the flood. */
const VERDICTS: Record<string, 'suspicions' | 'deaths'> = { 'member suspect': 'suspicions', 'member dead': 'deaths' }

/**
 * flood: one agent sends MESSAGES one-way actor messages to a sink on another, as fast as it can,
 * in a cluster of HOSTS agents (`--wireguard off`, one process each); the sender outruns the
 * receiver, so a backlog builds at the receiver. Counts every membership verdict any host reached
 * meanwhile (a member suspected or declared dead: none of them is), and fails, like the messaging
 * bench, on any message lost. A flood once made the receiver declare the sender dead, and every
 * host the receiver: messages were lost and routes would have moved.
 */
export async function run (): Promise<void> {
  process.env.BENCH_LOG_LEVEL ??= 'info'
  const dir = await mkdtemp(join(tmpdir(), 'roost-bench-flood-'))
  const children: ChildProcess[] = []
  const counts = { suspicions: 0, deaths: 0 }
  const watch = (c: ChildProcess): void => {
    if (c.stderr === null) return
    createInterface({ input: c.stderr }).on('line', (line) => {
      if (!line.startsWith('{')) { process.stderr.write(line + '\n'); return }
      let msg: unknown
      try { msg = (JSON.parse(line) as { msg?: unknown }).msg } catch { return }
      const kind = typeof msg === 'string' ? VERDICTS[msg] : undefined
      if (kind !== undefined) counts[kind]++
    })
  }
  const boot = createDhtBootstrap({ host: '127.0.0.1', port: await freeUdpPort() }, { logger: createLogger({ level: 'warn' }) })
  await boot.start()
  const secretFile = join(dir, 'secret')
  await writeFile(secretFile, randomBytes(24).toString('base64url'), { mode: 0o600 })
  try {
    const common = { cluster: 'flood', secretFile, bootstrap: boot.address(), host: '127.0.0.1', wireguard: 'off' as const }
    const start = (name: string): ChildProcess => {
      const c = spawnDispatchProcess('receiver', { ...common, name, dataDir: join(dir, name), raw: { kind: 'hyperswarm' } }, { stderr: 'pipe' })
      children.push(c)
      watch(c)
      return c
    }
    progress(`starting ${HOSTS - 1} receiving agents (the first holds the sink)`)
    const sinkHost = start('flood-b')
    const ready = await firstJsonLine<ReceiverReady>(sinkHost, 'the sink host')
    await Promise.all(Array.from({ length: HOSTS - 2 }, async (_, i) => await firstJsonLine<ReceiverReady>(start(`flood-${i + 3}`), `host ${i + 3}`)))
    progress(`starting the sender: ${MESSAGES} messages to the sink`)
    const sender = spawnDispatchProcess('sender', {
      ...common, name: 'flood-a', dataDir: join(dir, 'a'), receiver: ready, messages: MESSAGES, rounds: 1, latencySamples: 100, warmup: { latency: 100, dispatch: 1_000 }
    }, { stderr: 'pipe' })
    children.push(sender)
    watch(sender)
    const result = await firstJsonLine<Record<string, number>>(sender, 'the sender').catch((err: Error) => {
      throw new Error(`${err.message}; meanwhile ${counts.suspicions} suspicions and ${counts.deaths} deaths were declared`)
    })
    await exitedCleanly(sender, 'the sender')
    report('flood', {
      hosts: HOSTS,
      messages: MESSAGES,
      msgsPerSec: result.msgsPerSec,
      rawMsgsPerSec: result.rawMsgsPerSec,
      suspicions: counts.suspicions,
      deaths: counts.deaths,
      senderCpuUsPerMsg: result.senderCpuUsPerMsg,
      receiverCpuUsPerMsg: result.receiverCpuUsPerMsg
    })
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM')
    await Promise.all(children.map(async c => { await exited(c) }))
    await boot.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
