import { RoostError } from '../errors/roost-error.js'

/** Prints a table of rows with the given columns to stdout. */
export function printTable (columns: string[], rows: string[][]): void {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  process.stdout.write(line(columns) + '\n')
  for (const r of rows) process.stdout.write(line(r) + '\n')
}

export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/** Prints an error as `error CODE: message` (and as JSON on stdout with --json); returns the exit code. */
export function reportError (err: unknown, json: boolean): number {
  const code = err instanceof RoostError ? err.code : (err as { code?: string })?.code ?? 'ERR_INTERNAL'
  const message = err instanceof Error ? err.message : String(err)
  if (json) process.stdout.write(JSON.stringify({ error: { code, message } }) + '\n')
  process.stderr.write(`error ${code}: ${message}\n`)
  return 1
}

export function ago (ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.round(s / 60)}m ago`
  return `${Math.round(s / 3600)}h ago`
}
