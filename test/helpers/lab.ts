import type { ExecutionContext } from 'ava'
import { createLab, type Lab, type LabInit } from '../../src/lab/lab.js'
import { silentLogger } from '../../src/log/logger.js'
import { BIN, tempDir } from './cli.js'

/** A started network-namespace lab (root only) whose stop() is registered with t.teardown, even when start fails. */
export async function startTestLab (t: ExecutionContext, init: Partial<LabInit> & { hosts: number }): Promise<Lab> {
  const dir = await tempDir(t, 'roost-lab-')
  const lab = createLab({ binPath: BIN, dir, agentArgs: ['--driver', 'process'], ...init }, { logger: silentLogger() })
  t.teardown(async () => { await lab.stop() })
  await lab.start()
  return lab
}
