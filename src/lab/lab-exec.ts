import { execFile } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'
import { LabError } from '../errors/errors.js'

/** Where the network tools live; PATH of a non-login shell often lacks the sbin directories. */
const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin']
const COMMAND_TIMEOUT_MS = 30_000

/**
 * PATH with the system directories first, then the caller's (for the tools and for the agents
 * the lab starts). System first because npm scripts put node_modules/.bin ahead, and an npm
 * package ships an unrelated `nft` binary.
 */
export function labPath (): string {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(d => d !== '' && !SYSTEM_DIRS.includes(d))
  return [...SYSTEM_DIRS, ...dirs].join(delimiter)
}

/** The absolute path of executable `name` on {@link labPath}, or undefined. */
export function findTool (name: string): string | undefined {
  for (const dir of labPath().split(delimiter)) {
    const p = join(dir, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {}
  }
  return undefined
}

/**
 * Runs `file args…` (with `input` on stdin, if given) and resolves with stdout. A failure
 * rejects with a LabError whose details carry the command, exit code and stderr.
 */
export async function run (file: string, args: string[], input?: string): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const child = execFile(file, args, { env: { ...process.env, PATH: labPath() }, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err === null) {
        resolve(stdout)
        return
      }
      const text = stderr.trim() === '' ? err.message : stderr.trim()
      reject(new LabError(`${file} ${args.join(' ')}: ${text}`, { file, args, exitCode: err.code ?? null, stderr: stderr.trim(), stdout }))
    })
    if (input !== undefined) child.stdin?.end(input)
  })
}

/** The stderr a failed {@link run} carried ('' for other errors). */
export function stderrOf (err: unknown): string {
  return err instanceof LabError ? String(err.details?.stderr ?? '') : ''
}

/** Whether a failed command said the thing it was asked to remove or change does not exist. */
export function isNotFound (err: unknown): boolean {
  return /Cannot find device|No such file or directory|does not exist|Invalid "netns" value|not found|Cannot open network namespace/i.test(stderrOf(err))
}
