import type { Command } from 'commander'
import { callAgent } from '../agent-call.js'
import type { MeshView } from '../../api/control-api.js'
import { defaultDataDir } from '../config.js'
import { printJson, printTable, reportError } from '../output.js'

/** Human-readable byte count. */
export function bytes (n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(1)} ${units[i] as string}`
}

/** How long ago a unix-seconds handshake was ("never" for 0). */
export function handshakeAge (unixS: number, nowMs = Date.now()): string {
  if (unixS === 0) return 'never'
  const s = Math.max(0, Math.round(nowMs / 1000 - unixS))
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`
}

export function printMesh (m: MeshView): void {
  const head: Array<[string, string]> = [
    ['mode', m.mode + (m.reason === null ? '' : ` (${m.reason})`)],
    ['interface', m.ifname ?? '-'],
    ['address', m.address ?? '-'],
    ['prefix', m.prefix],
    ['endpoint', m.endpoint ?? '-'],
    ['public key', m.publicKey ?? '-'],
    ['wireguard-go', m.pid === null ? '-' : `pid ${m.pid}, ${m.restarts} restart(s)`],
    ['messages out', `wireguard ${m.stats.framesOut.wireguard ?? 0}, hyperswarm ${m.stats.framesOut.hyperswarm ?? 0} (path switches ${m.stats.switches}, resent ${m.stats.resent})`]
  ]
  printTable(['FIELD', 'VALUE'], head)
  process.stdout.write('\n')
  printTable(['PEER', 'HOST ID', 'MESH ADDRESS', 'ENDPOINT', 'HANDSHAKE', 'RX', 'TX', 'PATH'],
    m.peers.map(p => [p.name === '' ? '-' : p.name, p.hostId.slice(0, 12), p.address, p.endpoint ?? '-', handshakeAge(p.latestHandshake), bytes(p.rxBytes), bytes(p.txBytes), p.path]))
}

export function registerMeshCommand (program: Command): void {
  program.command('mesh')
    .description('show this host\'s WireGuard mesh: peers, endpoints, last handshake, rx/tx, and the path messages take')
    .option('--data-dir <dir>', 'data dir of the local agent', defaultDataDir())
    .option('--json', 'print JSON')
    .action(async (opts: { dataDir: string, json?: boolean }) => {
      try {
        const view = await callAgent(opts.dataDir, async api => await api.mesh())
        if (opts.json === true) printJson(view)
        else printMesh(view)
      } catch (err) { process.exitCode = reportError(err, opts.json === true) }
    })
}
