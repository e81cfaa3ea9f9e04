import { percentile, progress, report, round } from './helpers/report.js'
import { createGossipCluster, type GossipCluster } from '../test/helpers/sim/gossip-cluster.js'

// Simulated hosts on one virtual clock (test/helpers/sim): 0.5 ± 0.2 ms links, lan profile.
const SIZES = (process.env.BENCH_GOSSIP_HOSTS ?? '100,1000').split(',').map(Number)
const SEED = process.env.BENCH_SEED ?? 'gossip-bench'
const TRIALS = Number(process.env.BENCH_TRIALS ?? 10)
const FP_MINUTES = Number(process.env.BENCH_FP_MINUTES ?? 10)
const FP_LOSS = 0.05
const STEP_MS = 20
const SETTLE_MS = Number(process.env.BENCH_SETTLE_MS ?? 60_000)

interface Tracker {
  /** Members each host sees alive, itself excluded. */
  alive: Map<string, number>
  /** When each observer marked each member dead. */
  dead: Map<string, Map<string, number>>
  /** Live hosts anyone declared dead. */
  falselyDead: Set<string>
}

function track (c: GossipCluster): Tracker {
  const t: Tracker = { alive: new Map(), dead: new Map(), falselyDead: new Set() }
  for (const [observer, node] of c.nodes) {
    t.alive.set(observer, 0)
    node.onMemberChange((m, previous) => {
      const was = previous === 'alive' ? 1 : 0
      const is = m.state === 'alive' ? 1 : 0
      t.alive.set(observer, (t.alive.get(observer) ?? 0) + is - was)
      if (m.state === 'dead') {
        let seen = t.dead.get(m.id)
        if (seen === undefined) t.dead.set(m.id, seen = new Map())
        seen.set(observer, c.sim.clock.now())
        if (c.alive(m.id)) t.falselyDead.add(m.id)
      }
    })
  }
  return t
}

function runUntil (c: GossipCluster, done: () => boolean, limitMs: number): boolean {
  const end = c.sim.clock.now() + limitMs
  while (c.sim.clock.now() < end) {
    if (done()) return true
    c.sim.clock.runUntil(Math.min(end, c.sim.clock.now() + STEP_MS))
  }
  return done()
}

function liveIds (c: GossipCluster): string[] {
  return c.ids.filter(id => c.alive(id))
}

async function one (n: number): Promise<void> {
  const wall = performance.now()
  progress(`gossip: ${n} hosts, seed ${SEED}`)
  const c = createGossipCluster({ hosts: n, seed: `${SEED}-${n}` })
  const t = track(c)
  const rng = c.sim.rng.fork('bench')
  const joined = runUntil(c, () => liveIds(c).every(id => t.alive.get(id) === n - 1), 120_000)
  if (!joined) throw new Error(`membership did not converge for ${n} hosts`)
  const joinMs = c.sim.clock.now()
  progress(`  joined after ${round(joinMs, 0)} simulated ms`)
  // Let the join storm's broadcasts finish before measuring steady state.
  c.sim.clock.runFor(SETTLE_MS)

  c.sim.network.resetStats()
  c.measureBytes(true)
  const steadyMs = 10_000
  c.sim.clock.runFor(steadyMs)
  c.measureBytes(false)
  const totals = c.sim.network.totals()
  const bytesPerHostPerSec = totals.sent.bytes / n / (steadyMs / 1000)
  progress(`  steady state: ${round(bytesPerHostPerSec, 0)} B/s sent per host`)

  const converge: number[] = []
  for (let i = 0; i < TRIALS; i++) {
    const live = liveIds(c)
    const writer = live[rng.int(live.length)] as string
    const key = `bench-app-${i}`
    const arrived = new Set<string>()
    const unsubs = live.map(id => c.nodes.get(id)!.replica.subscribe({ table: 'services' }, (e) => { if (e.row.key === key) arrived.add(id) }))
    const start = c.sim.clock.now()
    c.nodes.get(writer)!.write('services', key, {
      app: key, deployVersion: 1, primaryRegion: null, hostnames: [], updatedAt: 0,
      services: [{ protocol: 'tcp', internalPort: 8080, ports: [{ port: 80, handlers: ['http'], forceHttps: false, proxyProtoVersion: 1 }], concurrency: { type: 'connections', softLimit: 20, hardLimit: 25 }, autoStopMachines: 'off', autoStartMachines: true, minMachinesRunning: 0 }]
    })
    const need = Math.ceil(live.length * 0.99)
    if (!runUntil(c, () => arrived.size >= need, 60_000)) throw new Error(`row ${key} did not reach 99% of hosts`)
    converge.push(c.sim.clock.now() - start)
    for (const u of unsubs) u()
    c.sim.clock.runFor(1_000)
  }
  progress(`  convergence to 99%: ${converge.map(x => round(x, 0)).join(', ')} ms`)

  const detect: number[] = []
  for (let i = 0; i < TRIALS; i++) {
    const live = liveIds(c)
    const victim = live[rng.int(live.length)] as string
    c.kill(victim)
    const start = c.sim.clock.now()
    const others = live.filter(id => id !== victim)
    const allSee = (): boolean => {
      const seen = t.dead.get(victim)
      return seen !== undefined && others.every(o => seen.has(o))
    }
    if (!runUntil(c, allSee, 60_000)) throw new Error(`victim ${victim.slice(0, 8)} not marked dead by everyone`)
    detect.push(c.sim.clock.now() - start)
    c.sim.clock.runFor(2_000)
  }
  progress(`  detection (all live hosts mark dead): ${detect.map(x => round(x, 0)).join(', ')} ms`)

  t.falselyDead.clear()
  c.sim.network.setLoss(FP_LOSS)
  const fpStart = performance.now()
  c.sim.clock.runFor(FP_MINUTES * 60_000)
  c.sim.network.setLoss(0)
  progress(`  ${FP_MINUTES} simulated minutes at ${FP_LOSS * 100}% loss: ${t.falselyDead.size} live hosts declared dead (${round((performance.now() - fpStart) / 1000, 1)} s wall)`)

  report('gossip', {
    hosts: n,
    profile: 'lan',
    detectMs: round(percentile([...detect].sort((a, b) => a - b), 99), 0),
    detectMedianMs: round(percentile([...detect].sort((a, b) => a - b), 50), 0),
    falsePositives: t.falselyDead.size,
    fpSimulatedMinutes: FP_MINUTES,
    fpLoss: FP_LOSS,
    convergeP99Ms: round(percentile([...converge].sort((a, b) => a - b), 99), 0),
    convergeMedianMs: round(percentile([...converge].sort((a, b) => a - b), 50), 0),
    bytesPerHostPerSec: round(bytesPerHostPerSec, 0),
    trials: TRIALS,
    joinMs: round(joinMs, 0),
    seed: `${SEED}-${n}`,
    wallSec: round((performance.now() - wall) / 1000, 1)
  })
}

export async function run (): Promise<void> {
  for (const n of SIZES) await one(n)
}
