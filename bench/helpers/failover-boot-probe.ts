import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { timeToAnswer } from './boot-probe.js'
import { machinesOf } from './proxy-deploy.js'

// Run inside a lab host's namespace (its Machines API and its machines' endpoints answer on its
// 127.0.0.1): creates a machine on this host with the config of an existing machine, times it
// from the API call until its app answers (helpers/boot-probe.ts's probe), destroys it, and
// prints {"ms":…,"id":…}. The failover bench's bootMs: the driver's boot time in the same lab.
//   node --import tsx failover-boot-probe.ts <data dir> <app of the model machine> <its id> <app to create in>

const [dataDir, fromApp, fromId, app] = process.argv.slice(2)
if (dataDir === undefined || fromApp === undefined || fromId === undefined || app === undefined) {
  process.stderr.write('usage: failover-boot-probe.ts <data dir> <app> <machine id> <new app>\n')
  process.exit(2)
}
const hostId = (JSON.parse(await readFile(join(dataDir, 'agent.json'), 'utf8')) as { hostId: string }).hostId
const c = await machinesOf(dataDir)
const model = await c.get(fromApp, fromId)
const { ms, m } = await timeToAnswer(c, app, async () => await c.create(app, { config: model.config, host: hostId }))
await c.destroy(app, m.id, true)
process.stdout.write(JSON.stringify({ ms, id: m.id }) + '\n')
