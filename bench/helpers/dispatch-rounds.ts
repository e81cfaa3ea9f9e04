import { readFile } from 'node:fs/promises'
import type { DispatchPeer } from './raw-counter.js'
import { dispatchFigures, progress, round } from './report.js'

export interface DispatchRoundsInit {
  /** One-way messages per round and side. */
  messages: number
  rounds: number
  /** Asks per round and side, one at a time. */
  latencySamples: number
  warmup: { latency: number, dispatch: number }
  /** The receiving process (both sides' receivers live in it); its CPU time is read from /proc. */
  receiverPid: number
}

/** roost's side and the raw peer's, driven the same way from this (the sending) process. */
export interface DispatchRoundsComponents {
  roost: DispatchPeer
  raw: DispatchPeer
}

/** CPU time (user + system) of a process, ms (from /proc, 100 ticks a second). */
async function cpuMsOf (pid: number): Promise<number> {
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? []
  return (Number(f[11]) + Number(f[12])) * 10
}

function selfCpuMs (): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/**
 * Warm-up, then `rounds` rounds of: raw dispatch, roost dispatch, raw latency, roost latency, one
 * side at a time. Every round must deliver exactly `messages` on both sides (counted by the
 * receivers, the bench's own messages only): anything else throws. Returns the figures of
 * {@link dispatchFigures} and the CPU each end spent per message.
 */
export async function dispatchRounds (init: DispatchRoundsInit, components: DispatchRoundsComponents): Promise<Record<string, number>> {
  const { roost, raw } = components
  const n = init.messages
  const exactly = (side: string, r: number, delivered: number): void => {
    if (delivered !== n) throw new Error(`${side} delivered ${delivered} of ${n} messages in round ${r + 1} (${delivered < n ? 'lost' : 'duplicated'}: ${Math.abs(n - delivered)})`)
  }
  progress('warming up')
  await raw.latency(init.warmup.latency)
  await roost.latency(init.warmup.latency)
  await raw.dispatch(init.warmup.dispatch)
  await roost.dispatch(init.warmup.dispatch)

  const cpu = { rawSender: 0, rawReceiver: 0, sender: 0, receiver: 0 }
  const rates: number[] = []
  const rawRates: number[] = []
  let samples: number[] = []
  let rawSamples: number[] = []
  const measure = async <T>(fn: () => Promise<T>): Promise<{ value: T, senderMs: number, receiverMs: number }> => {
    const s0 = selfCpuMs(); const r0 = await cpuMsOf(init.receiverPid)
    const value = await fn()
    return { value, senderMs: selfCpuMs() - s0, receiverMs: await cpuMsOf(init.receiverPid) - r0 }
  }
  for (let r = 0; r < init.rounds; r++) {
    const rd = await measure(async () => await raw.dispatch(n))
    exactly('raw', r, rd.value.delivered)
    rawRates.push(n / (rd.value.elapsedMs / 1000))
    cpu.rawSender += rd.senderMs; cpu.rawReceiver += rd.receiverMs
    const d = await measure(async () => await roost.dispatch(n))
    exactly('roost', r, d.value.delivered)
    rates.push(n / (d.value.elapsedMs / 1000))
    cpu.sender += d.senderMs; cpu.receiver += d.receiverMs
    progress(`round ${r + 1}/${init.rounds}: raw ${Math.round(rawRates[r] ?? 0)} msg/s (cpu sender ${Math.round(rd.senderMs)} ms, receiver ${Math.round(rd.receiverMs)} ms), ` +
      `roost ${Math.round(rates[r] ?? 0)} msg/s (cpu sender ${Math.round(d.senderMs)} ms, receiver ${Math.round(d.receiverMs)} ms)`)
    rawSamples = rawSamples.concat(await raw.latency(init.latencySamples))
    samples = samples.concat(await roost.latency(init.latencySamples))
  }
  const perMsg = (ms: number): number => round(ms * 1000 / (init.rounds * n), 2)
  return {
    ...dispatchFigures({ rates, rawRates, samples, rawSamples }),
    senderCpuUsPerMsg: perMsg(cpu.sender),
    receiverCpuUsPerMsg: perMsg(cpu.receiver),
    rawSenderCpuUsPerMsg: perMsg(cpu.rawSender),
    rawReceiverCpuUsPerMsg: perMsg(cpu.rawReceiver)
  }
}
