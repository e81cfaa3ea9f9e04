// Machines created at once through one agent's Machines API, run inside that host's namespace:
// `node --import tsx burst-client.ts '<json BurstSpec>'`. All creates are sent together; right
// after the `killAfter`-th answer (1 ≤ killAfter < count) the agent is sent SIGKILL from here,
// with no polling delay, so the kill lands while the others are being placed (the agent has
// them all by then: they left together). Prints one JSON BurstReport on stdout.
import type { MachineConfig } from '../../../src/api/machines/schemas.js'
import { createMachinesClient } from '../../../src/api/machines/client.js'
import { resolveApiTarget } from '../../../src/cli/commands/machines-target.js'

export interface BurstSpec {
  dataDir: string
  app: string
  config: MachineConfig
  count: number
  killAfter: number
  killPid: number
}

export interface BurstReport {
  /** Machines the API reported created, in the order the answers came. */
  created: Array<{ id: string, host: string }>
  /** Why each of the others failed. */
  failed: string[]
  /** Answers received before the kill was sent. */
  answeredBeforeKill: number
}

const spec = JSON.parse(process.argv[2] ?? '{}') as BurstSpec
if (!(spec.killAfter >= 1 && spec.killAfter < spec.count)) throw new RangeError(`killAfter must be 1 … count - 1, got ${spec.killAfter}`)
const { url, token } = resolveApiTarget({ dataDir: spec.dataDir })
const client = createMachinesClient({ url, token })
const report: BurstReport = { created: [], failed: [], answeredBeforeKill: -1 }
let killed = false
const kill = (): void => {
  if (killed) return
  killed = true
  report.answeredBeforeKill = report.created.length + report.failed.length
  try { process.kill(spec.killPid, 'SIGKILL') } catch {}
}

const creates = Array.from({ length: spec.count }, async () => {
  try {
    const m = await client.create(spec.app, { config: spec.config })
    report.created.push({ id: m.id, host: m.host })
  } catch (err) {
    report.failed.push((err as Error).message)
  }
  if (report.created.length + report.failed.length >= spec.killAfter) kill()
})
await Promise.all(creates)
process.stdout.write(JSON.stringify(report) + '\n')
