import { open, stat } from 'node:fs/promises'
import { EXIT_MARKER } from './image/manifest.js'

/** How far back from the end of the console to look for the exit marker (init writes it last). */
const MARKER_WINDOW_BYTES = 64 * 1024

/** Size of a file, 0 when it does not exist (where this boot's console output will start). */
export async function fileSize (path: string): Promise<number> {
  try {
    return (await stat(path)).size
  } catch {
    return 0
  }
}

/** Reads bytes [max(from, size - maxBytes), size) of a file; '' when it does not exist. */
export async function readTail (path: string, maxBytes: number, from = 0): Promise<string> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch {
    return ''
  }
  try {
    const size = (await fh.stat()).size
    const start = Math.max(from, size - maxBytes, 0)
    if (start >= size) return ''
    const buf = Buffer.alloc(size - start)
    const { bytesRead } = await fh.read(buf, 0, buf.length, start)
    return buf.subarray(0, bytesRead).toString('utf8')
  } finally {
    await fh.close()
  }
}

/** The code of the last `roost-exit: N` line in `text`, or null. */
export function parseExitMarker (text: string): number | null {
  let code: number | null = null
  const re = new RegExp(`(?:^|[\\r\\n])${EXIT_MARKER}(-?\\d+)[ \\t]*(?=\\r|\\n|$)`, 'g')
  for (const m of text.matchAll(re)) code = Number(m[1])
  return code
}

/** The guest app's exit code from this boot's console output (written after `fromOffset`). */
export async function readExitMarker (consoleLog: string, fromOffset: number): Promise<number | null> {
  return parseExitMarker(await readTail(consoleLog, MARKER_WINDOW_BYTES, fromOffset))
}
