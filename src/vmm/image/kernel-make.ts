import { spawn } from 'node:child_process'
import { ImageError } from '../../errors/errors.js'

const TAIL_LINES = 25

/** Options of runKernelMake. */
export interface KernelMakeInit {
  /** The kernel source tree. */
  cwd: string
  args: string[]
  /** The build step this is, named in errors (`kernel-configure`, `kernel-compile`). */
  step: string
  /** Called for each compiled unit (`  CC  path` lines of kbuild's output). */
  onUnit?: (path: string) => void
}

/**
 * Runs `make ARCH=x86_64 …` in a kernel tree, streaming kbuild's output. A failure is an
 * ImageError naming the step, with the last lines the build printed (the compiler's complaint).
 */
export async function runKernelMake (init: KernelMakeInit): Promise<void> {
  const tail: string[] = []
  const keep = (line: string): void => {
    if (line.trim() === '') return
    tail.push(line)
    if (tail.length > TAIL_LINES) tail.shift()
  }
  const env = { ...process.env, ARCH: 'x86_64', KBUILD_BUILD_USER: 'roost', KBUILD_BUILD_HOST: 'roost', LC_ALL: 'C' }
  await new Promise<void>((resolve, reject) => {
    const child = spawn('make', ['ARCH=x86_64', ...init.args], { cwd: init.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    const lines = (stream: NodeJS.ReadableStream, onLine: (l: string) => void): void => {
      let buf = ''
      stream.setEncoding('utf8')
      stream.on('data', (s: string) => {
        buf += s
        let nl
        while ((nl = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, nl))
          buf = buf.slice(nl + 1)
        }
      })
      stream.on('end', () => { if (buf !== '') onLine(buf) })
    }
    lines(child.stdout, (l) => {
      keep(l)
      const m = /^\s+(?:CC|AS)\s+(\S+)/.exec(l)
      if (m?.[1] !== undefined) init.onUnit?.(m[1])
    })
    lines(child.stderr, keep)
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ImageError(`${init.step}: could not run make: ${err.code === 'ENOENT' ? 'not installed (apt-get install build-essential)' : err.message}`, { step: init.step }))
    })
    child.once('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new ImageError(`${init.step}: 'make ${init.args.join(' ')}' failed (${code ?? signal ?? '?'}):\n${tail.join('\n')}`, { step: init.step }))
    })
  })
}
