import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connectControl } from '../api/control-client.js'
import { controlSocketPath } from '../api/control-api.js'
import { AgentUnavailableError } from '../errors/errors.js'
import type { CheckResult } from './doctor-check.js'

/** A live agent answers at once; one that accepts and never answers is reported, not waited for. */
const ANSWER_TIMEOUT_MS = 10_000

/** The pid in `<dataDir>/agent.json` (written by a running agent, removed when it stops). */
export async function agentPidOf (dataDir: string): Promise<number | undefined> {
  try {
    const pid = (JSON.parse(await readFile(join(dataDir, 'agent.json'), 'utf8')) as { pid?: unknown }).pid
    return typeof pid === 'number' ? pid : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether the agent of `dataDir` answers on its control socket. Not running is a warning, not a
 * failure: the doctor is also run before the first start.
 */
export async function checkAgent (dataDir: string): Promise<CheckResult> {
  const socket = controlSocketPath(dataDir)
  try {
    const client = await connectControl(socket)
    try {
      let timer: NodeJS.Timeout | undefined
      const silent = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => { reject(new AgentUnavailableError(`the agent accepted the connection but did not answer within ${ANSWER_TIMEOUT_MS / 1000} s`)) }, ANSWER_TIMEOUT_MS)
      })
      const info = await Promise.race([client.call(async api => await api.info()), silent]).finally(() => { clearTimeout(timer) })
      const name = typeof info.name === 'string' ? info.name : '?'
      return { id: 'agent', title: 'agent', status: 'ok', detail: `running as ${name}, answering on ${socket}`, data: { socket, info } }
    } finally {
      client.close()
    }
  } catch (err) {
    return { id: 'agent', title: 'agent', status: 'warn', detail: `not reachable: ${(err as Error).message.replace(/; is 'roost agent start'.*$/, '')}`, fix: `start it: systemctl start roost-agent, or roost agent start --data-dir ${dataDir}`, data: { socket } }
  }
}
