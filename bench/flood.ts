import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { exitedCleanly, firstJsonLine, type ReceiverReady } from './helpers/dispatch-processes.js'
import { withLoopbackCluster } from './helpers/loopback-cluster.js'
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
  const counts = { suspicions: 0, deaths: 0 }
  const watch = (c: ChildProcess): ChildProcess => {
    if (c.stderr === null) return c
    createInterface({ input: c.stderr }).on('line', (line) => {
      if (!line.startsWith('{')) { process.stderr.write(line + '\n'); return }
      let msg: unknown
      try { msg = (JSON.parse(line) as { msg?: unknown }).msg } catch { return }
      const kind = typeof msg === 'string' ? VERDICTS[msg] : undefined
      if (kind !== undefined) counts[kind]++
    })
    return c
  }
  await withLoopbackCluster('flood', async ({ common, dataDir, spawn }) => {
    const start = (name: string): ChildProcess => watch(spawn('receiver', { ...common, name, dataDir: dataDir(name), raw: { kind: 'hyperswarm' } }, { stderr: 'pipe' }))
    progress(`starting ${HOSTS - 1} receiving agents (the first holds the sink)`)
    const ready = await firstJsonLine<ReceiverReady>(start('flood-b'), 'the sink host')
    await Promise.all(Array.from({ length: HOSTS - 2 }, async (_, i) => await firstJsonLine<ReceiverReady>(start(`flood-${i + 3}`), `host ${i + 3}`)))
    progress(`starting the sender: ${MESSAGES} messages to the sink`)
    const sender = watch(spawn('sender', {
      ...common, name: 'flood-a', dataDir: dataDir('a'), receiver: ready, messages: MESSAGES, rounds: 1, latencySamples: 100, warmup: { latency: 100, dispatch: 1_000 }
    }, { stderr: 'pipe' }))
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
  })
}
