import { open } from 'node:fs/promises'
import { connectControl } from '../../src/api/control-client.js'
import type { AgentStats } from '../../actors/agent/messages.js'
import { rssMbOf } from '../../bench/helpers/report.js'

/** Reads the target's own figures through its control socket (`agent.stats`). */
export async function targetStats (socketPath: string, hostId: string, reset: boolean): Promise<AgentStats> {
  const c = await connectControl(socketPath)
  try {
    const r = await c.call(async api => await api.send(`${hostId}/agent`, { type: 'agent.stats', reset }, { timeoutMs: 30_000 }))
    return r.reply as AgentStats
  } finally { c.close() }
}

export { rssMbOf }

/**
 * Waits until the RSS of `pid` stops falling (no new low by more than 1 MB for `quietSamples`
 * samples a second apart), at most `maxMs`; returns the last low. No GC is forced: the agent
 * runs as it does in production.
 */
export async function settledRssMb (pid: number, opts: { maxMs: number, quietSamples?: number }): Promise<number> {
  const quiet = opts.quietSamples ?? 5
  const deadline = Date.now() + opts.maxMs
  let low = await rssMbOf(pid)
  let since = 0
  while (Date.now() < deadline && since < quiet) {
    await new Promise(resolve => setTimeout(resolve, 1_000))
    const now = await rssMbOf(pid)
    if (now < low - 1) { low = now; since = 0 } else { low = Math.min(low, now); since++ }
  }
  return low
}

/** A peer's log line saying it saw the target stop being alive. */
export interface Suspicion { observer: string, state: string, at: string }

const NOT_ALIVE = new Set(['member suspect', 'member dead', 'member left'])

/** Log positions of the peers, to count what they said about the target from now on. */
export interface SuspicionLog {
  read: () => Promise<Suspicion[]>
}

export async function watchSuspicions (target: string, peers: ReadonlyArray<{ name: string, logFile: string }>): Promise<SuspicionLog> {
  const sizeOf = async (f: string): Promise<number> => { const h = await open(f, 'r'); try { return (await h.stat()).size } finally { await h.close() } }
  const from = new Map<string, number>()
  for (const p of peers) from.set(p.name, await sizeOf(p.logFile))
  return {
    read: async () => {
      const out: Suspicion[] = []
      for (const p of peers) {
        const h = await open(p.logFile, 'r')
        try {
          const start = from.get(p.name) ?? 0
          const size = (await h.stat()).size
          const buf = Buffer.alloc(Math.max(0, size - start))
          await h.read(buf, 0, buf.byteLength, start)
          for (const line of buf.toString('utf8').split('\n')) {
            if (!line.includes(target) || !line.includes('"msg":"member ')) continue
            try {
              const rec = JSON.parse(line) as { msg?: string, host?: string, state?: string, time?: number | string }
              if (rec.host === target && rec.msg !== undefined && NOT_ALIVE.has(rec.msg)) out.push({ observer: p.name, state: rec.state ?? rec.msg.slice(7), at: String(rec.time ?? '') })
            } catch {}
          }
        } finally { await h.close() }
      }
      return out
    }
  }
}
