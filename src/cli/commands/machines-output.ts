import type { CheckStatus, MachineView } from '../../api/machines/schemas.js'
import { ago, printTable } from '../output.js'

const EVENTS_SHOWN = 5

function when (iso: string): string {
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? iso : ago(ms)
}

function isoOf (ms: number): string {
  const d = new Date(ms)
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString()
}

function endpoint (m: MachineView): string {
  return m.endpoint === null ? '-' : `${m.endpoint.host}:${m.endpoint.port}`
}

/** `2/3 passing`, with the critical count when any; `-` without checks. */
export function checksSummary (checks: CheckStatus[]): string {
  if (checks.length === 0) return '-'
  const passing = checks.filter(c => c.status === 'passing').length
  const critical = checks.filter(c => c.status === 'critical').length
  return `${passing}/${checks.length} passing${critical > 0 ? `, ${critical} critical` : ''}`
}

/** The `roost machines list` table. */
export function printMachineTable (machines: MachineView[]): void {
  printTable(['ID', 'NAME', 'STATE', 'REGION', 'HOST', 'DRIVER', 'ENDPOINT', 'CHECKS', 'UPDATED'],
    machines.map(m => [
      m.id, m.name, m.cordoned ? `${m.state} (cordoned)` : m.state, m.region, m.host.slice(0, 8), m.driver,
      endpoint(m), checksSummary(m.checks), when(m.updated_at)
    ]))
}

/** `key: value` lines of one machine, for `roost machines status` and `run`. */
export function printMachineStatus (m: MachineView): void {
  const rows: Array<[string, string]> = [
    ['id', m.id],
    ['name', m.name],
    ['app', m.app],
    ['state', m.state],
    ['region', m.region],
    ['host', m.host],
    ['driver', m.driver],
    ['image', m.config.image],
    ['instance', `${m.instance_id} (version ${m.version})`],
    ['endpoint', endpoint(m)],
    ['boot', m.boot === undefined || m.boot === null ? '-' : m.boot.mode === 'clone' ? `warm clone (snapshot ${m.boot.snapshot ?? '?'})` : m.boot.mode],
    ['cordoned', m.cordoned ? 'yes' : 'no'],
    ['restarts', String(m.restarts)],
    ['checks', checksSummary(m.checks)]
  ]
  for (const c of m.checks) rows.push([`  ${c.name}`, `${c.status} ${c.output.split('\n')[0] ?? ''}`.trimEnd()])
  rows.push(['created', `${m.created_at} (${when(m.created_at)})`], ['updated', `${m.updated_at} (${when(m.updated_at)})`])
  // Newest first, as Fly lists them.
  const events = m.events.slice(0, EVENTS_SHOWN)
  if (events.length > 0) rows.push(['events', ''])
  for (const e of events) {
    const exit = e.exit_code === undefined || e.exit_code === null ? '' : ` exit=${e.exit_code}`
    rows.push([`  ${isoOf(e.timestamp)}`, `${e.type} ${e.status} (${e.source})${exit}${e.message === undefined ? '' : ` ${e.message}`}`])
  }
  const width = Math.max(...rows.map(([k]) => k.length)) + 2
  for (const [k, v] of rows) process.stdout.write(`${`${k}:`.padEnd(width)}${v}`.trimEnd() + '\n')
}
