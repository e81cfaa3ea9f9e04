import type { Logger } from '../log/logger.js'
import { qemuAvailable } from '../vmm/qemu-driver.js'
import { cachedMinimalKernel, checkAccel } from './accel-check.js'
import { agentPidOf, checkAgent } from './agent-check.js'
import { checkClock } from './clock-check.js'
import { checkDisk } from './disk-check.js'
import { runChecks, type CheckResult, type DoctorReport } from './doctor-check.js'
import { checkPorts, type PlannedPort } from './port-checks.js'
import { checkKernelTools, checkQemu, checkWireguard } from './tool-checks.js'

/** What the doctor checks against: the agent's settings as its configuration gives them. */
export interface DoctorInit {
  dataDir: string
  driver: 'auto' | 'qemu' | 'process'
  wireguard: 'auto' | 'on' | 'off'
  /** Ports the agent would bind (port 0, "any free one", is left out by the caller). */
  ports: readonly PlannedPort[]
  /** Where kernels and the accelerator probe's inputs are cached. */
  cacheDir: string
  /** Set when the agent's configuration does not load: reported as the first, failed, check. */
  configError?: string
  /** Where the configuration came from, for the report. */
  configSource: string
}

/** Checks this host for running the agent as configured: every check runs, in a fixed order. */
export async function runDoctor (init: DoctorInit, components: { logger: Logger }): Promise<DoctorReport> {
  const config: CheckResult = init.configError === undefined
    ? { id: 'config', title: 'configuration', status: 'ok', detail: `loads (${init.configSource})` }
    : { id: 'config', title: 'configuration', status: 'fail', detail: init.configError, fix: 'correct the configuration: roost agent start would refuse it' }
  const minimalKernel = await cachedMinimalKernel(init.cacheDir) !== undefined
  return await runChecks([
    { id: 'config', title: 'configuration', run: async () => config },
    { id: 'qemu', title: 'qemu', run: async () => await checkQemu(init.driver) },
    {
      id: 'kvm',
      title: 'virtualization',
      run: async () => {
        if (init.driver === 'process') return { id: 'kvm', title: 'virtualization', status: 'ok', detail: 'not used (--driver process)' }
        const q = await qemuAvailable()
        return await checkAccel({ qemuPath: q.ok ? q.path : undefined, cacheDir: init.cacheDir }, components)
      }
    },
    { id: 'wireguard', title: 'wireguard', run: async () => checkWireguard(init.wireguard) },
    { id: 'kernel-tools', title: 'kernel build tools', run: async () => await checkKernelTools(minimalKernel) },
    { id: 'ports', title: 'ports', run: async () => await checkPorts(init.ports, await agentPidOf(init.dataDir)) },
    { id: 'clock', title: 'clock sync', run: checkClock },
    { id: 'disk', title: 'disk space', run: async () => await checkDisk(init.dataDir) },
    { id: 'agent', title: 'agent', run: async () => await checkAgent(init.dataDir) }
  ])
}
