import { spawn } from 'node:child_process'
import { ImageError } from '../../errors/errors.js'

/** What a finished host command printed and how it ended. */
export interface CommandResult {
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

const MAX_CAPTURE = 1 << 20

/**
 * Runs a host tool (apt-get, dpkg-deb, xz, …) to completion, capturing its output. A missing
 * binary is an ImageError that says which step needed it; a non-zero exit is returned, not thrown,
 * so callers can decide (e.g. retry after `apt-get update`).
 */
export async function runHostCommand (cmd: string, args: string[], opts: { cwd?: string, step: string, env?: NodeJS.ProcessEnv }): Promise<CommandResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { if (stdout.length < MAX_CAPTURE) stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { if (stderr.length < MAX_CAPTURE) stderr += s })
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT'
        ? new ImageError(`${opts.step}: '${cmd}' not found (building guest images needs Debian's apt/dpkg tools and xz)`, { cmd })
        : new ImageError(`${opts.step}: could not run '${cmd}': ${err.message}`, { cmd }))
    })
    child.once('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) })
  })
}

/** Like runHostCommand, but a non-zero exit is an ImageError carrying the tool's last words. */
export async function runHostCommandOk (cmd: string, args: string[], opts: { cwd?: string, step: string }): Promise<string> {
  const r = await runHostCommand(cmd, args, opts)
  if (r.code !== 0) throw new ImageError(`${opts.step}: '${cmd} ${args.join(' ')}' failed (${r.code ?? r.signal ?? '?'}): ${lastLines(r.stderr)}`, { cmd, args })
  return r.stdout
}

/** The last few non-empty lines of a tool's stderr, for error messages. */
export function lastLines (text: string, n = 3): string {
  const lines = text.split('\n').map(l => l.trim()).filter(l => l.length > 0)
  return lines.slice(-n).join(' | ') || '(no output)'
}
