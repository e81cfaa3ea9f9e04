import { execFile } from 'node:child_process'
import { VmmError } from '../errors/errors.js'

/** Where iproute2's `ip` is looked up (PATH may lack /usr/sbin for non-login shells). */
const IP_PATH = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].join(':')

/**
 * Runs `ip ARGS…` (input, if given, on stdin, e.g. for `-batch -`) and resolves with stdout.
 * A non-zero exit rejects with a VmmError carrying the command and ip's stderr.
 */
export async function ip (args: string[], input?: string): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    const child = execFile('ip', args, { env: { ...process.env, PATH: `${process.env.PATH ?? ''}:${IP_PATH}` }, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err === null) {
        resolve(stdout)
        return
      }
      const text = stderr.trim() === '' ? err.message : stderr.trim()
      reject(new VmmError(`ip ${args.join(' ')}: ${text}`, { args, stderr: stderr.trim() }))
    })
    if (input !== undefined) child.stdin?.end(input)
  })
}

/** Whether a failed `ip` call said that the thing it was asked about does not exist. */
export function isNotFound (err: unknown): boolean {
  const text = err instanceof VmmError ? String(err.details?.stderr ?? err.message) : ''
  return /Cannot find device|No such file or directory|does not exist|Invalid "netns" value|not found/i.test(text)
}
