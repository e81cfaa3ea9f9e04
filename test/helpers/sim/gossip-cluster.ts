import { createCodec } from '../../../src/codec/codec.js'
import { createGossipNode, type GossipMessage, type GossipNode } from '../../../src/gossip/gossip-node.js'
import { createReplica } from '../../../src/gossip/replica.js'
import { createMemoryStore } from '../../../src/gossip/replica-store.js'
import type { SwimConfig, ProfileName } from '../../../src/gossip/swim-config.js'
import { silentLogger } from '../../../src/log/logger.js'
import { hostKey, hostKeyOf } from '../host-keys.js'
import { createSimulation, type Simulation } from './index.js'

export interface GossipClusterInit {
  hosts: number
  seed: number | string
  profile?: ProfileName | Partial<SwimConfig>
  latencyMs?: number
  jitterMs?: number
  loss?: number
  /** Seeds each host joins through at start (default 3, chosen at random among earlier hosts). */
  seedsPerHost?: number
  antiEntropyIntervalMs?: number
}

/** N gossip nodes (SWIM + replica) on one simulated network and virtual clock. */
export interface GossipCluster {
  sim: Simulation<GossipMessage>
  ids: string[]
  nodes: Map<string, GossipNode>
  /** Count bytes (msgpack length of every message) from now on; off by default (it costs CPU). */
  measureBytes: (on: boolean) => void
  /** A crash: the host stops and vanishes from the network. */
  kill: (id: string) => void
  alive: (id: string) => boolean
}

export function createGossipCluster (init: GossipClusterInit): GossipCluster {
  const codec = createCodec()
  let measuring = false
  const sim = createSimulation<GossipMessage>({
    seed: init.seed,
    ...(init.latencyMs === undefined ? {} : { latencyMs: init.latencyMs }),
    ...(init.jitterMs === undefined ? {} : { jitterMs: init.jitterMs }),
    ...(init.loss === undefined ? {} : { loss: init.loss }),
    sizeOf: (msg) => measuring ? codec.encode(msg).byteLength : 0
  })
  const idRng = sim.rng.fork('ids')
  const ids: string[] = []
  for (let i = 0; i < init.hosts; i++) ids.push(hostKey(`sim/${String(init.seed)}/${idRng.next()}`).hostId)
  const nodes = new Map<string, GossipNode>()
  const logger = silentLogger()
  ids.forEach((id, i) => {
    const rng = sim.rng.fork(`host-${i}`)
    const replica = createReplica({ hostId: id }, { logger, clock: sim.clock, store: createMemoryStore(), signer: hostKeyOf(id) })
    const endpoint = sim.network.attach(id, (from, msg) => { node.receive(from, msg) })
    const node: GossipNode = createGossipNode({
      id,
      meta: { name: `s${i}`, region: `r${i % 3}`, addresses: [], version: 'sim' },
      ...(init.profile === undefined ? {} : { profile: init.profile }),
      ...(init.antiEntropyIntervalMs === undefined ? {} : { antiEntropyIntervalMs: init.antiEntropyIntervalMs }),
      incarnation: 1
    }, {
      clock: sim.clock,
      random: () => rng.next(),
      send: (to, msg) => { endpoint.send(to, msg) },
      replica,
      sizeOf: (row) => 60 + JSON.stringify(row.data ?? null).length
    })
    replica.start()
    nodes.set(id, node)
  })
  const seedRng = sim.rng.fork('seeds')
  ids.forEach((id, i) => {
    const node = nodes.get(id) as GossipNode
    node.start()
    if (i === 0) return
    const seeds = new Set<string>()
    const want = Math.min(i, init.seedsPerHost ?? 3)
    while (seeds.size < want) seeds.add(ids[seedRng.int(i)] as string)
    node.join([...seeds])
  })
  return {
    sim,
    ids,
    nodes,
    measureBytes: (on) => { measuring = on },
    kill (id) {
      nodes.get(id)?.stop()
      sim.network.detach(id)
    },
    alive: (id) => sim.network.isAttached(id)
  }
}
