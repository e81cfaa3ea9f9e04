/**
 * Stands in for an agent in the qemu driver's adoption test: starts one VM from the GuestSpec
 * (JSON, argv[2]), prints its RuntimeRecord as one JSON line on stdout, then idles until killed.
 */
import { silentLogger } from '../../../src/log/logger.js'
import type { GuestSpec } from '../../../src/vmm/driver.js'
import { createQemuDriver } from '../../../src/vmm/qemu-driver.js'

const [specJson, cacheDir] = process.argv.slice(2)
if (specJson === undefined || cacheDir === undefined) throw new Error('usage: qemu-start-detached SPEC_JSON CACHE_DIR')
const driver = createQemuDriver({ cacheDir }, { logger: silentLogger() })
const handle = await driver.start(JSON.parse(specJson) as GuestSpec)
process.stdout.write(JSON.stringify(handle.record) + '\n')
setInterval(() => {}, 60_000)
