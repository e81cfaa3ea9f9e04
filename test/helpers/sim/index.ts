import { createRng, type Rng } from './rng.js'
import { createSimNetwork, type SimNetwork, type SimNetworkInit } from './sim-network.js'
import { createVirtualClock, type VirtualClock } from './virtual-clock.js'

export { createRng, type Rng } from './rng.js'
export { createVirtualClock, type TimerHandle, type VirtualClock, type VirtualClockInit } from './virtual-clock.js'
export {
  createSimNetwork, DEFAULT_JITTER_MS, DEFAULT_LATENCY_MS, DEFAULT_LOSS,
  type SimCounters, type SimDropCounters, type SimEndpoint, type SimLinkOptions, type SimMessageHandler,
  type SimNetwork, type SimNetworkInit, type SimTrafficStats, type SimTrafficTotals
} from './sim-network.js'

/** Options for {@link createSimulation}: a seed, the clock's start, and the network's options. */
export interface SimulationInit<M> extends Omit<SimNetworkInit<M>, 'clock' | 'rng'> {
  /** Print it on failure: the same seed (and the same test code) replays the same run. */
  seed: number | string
  startMs?: number
}

/** A clock, a root rng and a network wired together. */
export interface Simulation<M> {
  seed: string
  clock: VirtualClock
  /** The root stream: give each component its own `rng.fork(label)` rather than drawing from it directly. */
  rng: Rng
  /** Draws from `rng.fork('network')`. */
  network: SimNetwork<M>
}

/** Creates a clock, a root rng from `seed`, and a network drawing from `rng.fork('network')`. */
export function createSimulation<M> (init: SimulationInit<M>): Simulation<M> {
  const { seed, startMs, ...networkInit } = init
  const rng = createRng(seed)
  const clock = createVirtualClock({ startMs })
  const network = createSimNetwork<M>({ ...networkInit, clock, rng: rng.fork('network') })
  return { seed: rng.seed, clock, rng, network }
}
