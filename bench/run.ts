import { readdirSync } from 'node:fs'
import { reportedLines } from './helpers/report.js'

// npm run bench -- <name> [more names]: runs bench/<name>.ts; with no name, lists them.
const available = readdirSync(new URL('.', import.meta.url)).filter(f => f.endsWith('.ts') && f !== 'run.ts').map(f => f.slice(0, -3))
const names = process.argv.slice(2)
if (names.length === 0) {
  process.stderr.write(`usage: npm run bench -- <name>\navailable: ${available.join(', ')}\n`)
  process.exit(2)
}
for (const name of names) {
  if (!available.includes(name)) {
    process.stderr.write(`unknown bench '${name}'; available: ${available.join(', ')}\n`)
    process.exit(2)
  }
  const mod = await import(`./${name}.ts`) as { run: () => Promise<void> }
  const before = reportedLines()
  try {
    await mod.run()
    if (reportedLines() === before) throw new Error('it printed no result')
  } catch (err) {
    // A bench that cannot measure says why and fails the run; it never ends quietly.
    process.stderr.write(`bench ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exit(1)
  }
}
process.exit(0)
