import type { MilestoneView } from '../../src/api/control-api.js'
import { median } from './report.js'

/** One column of the timeline: the first time `event` reached at least `n` (`'all'`: every other host). */
interface Column { label: string, event: string, n: number | 'all' }

const COLUMNS: Column[] = [
  { label: 'process', event: 'process', n: 1 },
  { label: 'init', event: 'agent.init', n: 1 },
  { label: 'wgEarly', event: 'wireguard.head-start', n: 1 },
  { label: 'wgGoUp', event: 'wireguard-go.up', n: 1 },
  { label: 'dht', event: 'dht.ready', n: 1 },
  { label: 'announce', event: 'dht.announced', n: 1 },
  { label: 'lookup1', event: 'dht.lookup', n: 1 },
  { label: 'transport', event: 'transport.started', n: 1 },
  { label: 'stream1', event: 'stream.peers', n: 1 },
  { label: 'streamAll', event: 'stream.peers', n: 'all' },
  { label: 'actors', event: 'actors.spawned', n: 1 },
  { label: 'control', event: 'agent.control', n: 1 },
  { label: 'wgBoot', event: 'wireguard.boot', n: 1 },
  { label: 'wgUp', event: 'wireguard.up', n: 1 },
  { label: 'wgPub', event: 'wireguard.published', n: 1 },
  { label: 'rows1', event: 'wireguard.rows', n: 1 },
  { label: 'rowsAll', event: 'wireguard.rows', n: 'all' },
  { label: 'peer1', event: 'wireguard.peers', n: 1 },
  { label: 'peerAll', event: 'wireguard.peers', n: 'all' },
  { label: 'hs1', event: 'wireguard.handshakes', n: 1 },
  { label: 'hsAll', event: 'wireguard.handshakes', n: 'all' },
  { label: 'mesh1', event: 'mesh.peers', n: 1 },
  { label: 'meshAll', event: 'mesh.peers', n: 'all' }
]

/** When `event` first reached `n` or more, from an agent's milestones. */
function firstAtLeast (ms: readonly MilestoneView[], event: string, n: number): number | undefined {
  let at: number | undefined
  for (const m of ms) if (m.event === event && m.n >= n && (at === undefined || m.at < at)) at = m.at
  return at
}

const cell = (v: number | undefined): string => (v === undefined ? '-' : String(Math.round(v))).padStart(9)

/**
 * The per-host timeline of a mesh-up run, as lines for stderr: each column is when the host
 * first got there (agent milestones from the control API's `timeline`), in ms relative to the
 * bench's t0 (the moment every agent answered on its control socket; negative: before it).
 * The last lines give the median and the slowest host per column.
 */
export function timelineLines (hosts: Array<{ name: string, milestones: MilestoneView[] }>, t0Epoch: number): string[] {
  const others = hosts.length - 1
  const rows = hosts.map(h => ({
    name: h.name,
    at: COLUMNS.map(c => {
      const at = firstAtLeast(h.milestones, c.event, c.n === 'all' ? others : c.n)
      return at === undefined ? undefined : at - t0Epoch
    })
  }))
  const lines = [`timeline (ms from t0, when every agent answered its control socket; '-': not reached)`]
  lines.push('host'.padEnd(6) + COLUMNS.map(c => c.label.padStart(9)).join(''))
  for (const r of rows) lines.push(r.name.padEnd(6) + r.at.map(cell).join(''))
  const column = (i: number): number[] => rows.map(r => r.at[i]).filter((v): v is number => v !== undefined)
  lines.push('median' + COLUMNS.map((_, i) => cell(column(i).length === 0 ? undefined : median(column(i)))).join(''))
  lines.push('max'.padEnd(6) + COLUMNS.map((_, i) => cell(column(i).length === 0 ? undefined : Math.max(...column(i)))).join(''))
  return lines
}
