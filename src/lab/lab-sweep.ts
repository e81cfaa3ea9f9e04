import { existsSync } from 'node:fs'
import type { Logger } from '../log/logger.js'
import { silentLogger } from '../log/logger.js'
import { endNetnsProcesses } from './lab-agents.js'
import { findTool } from './lab-exec.js'
import { deleteNetns, listNetns } from './lab-network.js'
import { BRIDGE_SUFFIX, parseLabNetns } from './lab-names.js'

function ownerAlive (pid: number): boolean {
  return pid === process.pid || existsSync(`/proc/${pid}`)
}

/**
 * Removes the namespaces of labs whose owning process is gone (the owner's pid is in every
 * name), ending what still runs inside them first. Host namespaces go before their lab's
 * bridge namespace. Resolves with the names removed.
 */
export async function sweepStaleLabs (logger: Logger = silentLogger()): Promise<string[]> {
  if (findTool('ip') === undefined) return []
  const stale = (await listNetns()).filter(n => {
    const p = parseLabNetns(n)
    return p !== null && !ownerAlive(p.ownerPid)
  })
  const isBridge = (n: string): boolean => parseLabNetns(n)?.host === BRIDGE_SUFFIX
  const ordered = [...stale.filter(n => !isBridge(n)), ...stale.filter(isBridge)]
  const removed: string[] = []
  for (const netns of ordered) {
    try {
      await endNetnsProcesses(netns, logger)
      await deleteNetns(netns)
      removed.push(netns)
    } catch (err) {
      logger.warn({ err, netns }, 'could not remove a stale lab namespace')
    }
  }
  if (removed.length > 0) logger.info({ removed }, 'removed namespaces of labs whose owner is gone')
  return removed
}

