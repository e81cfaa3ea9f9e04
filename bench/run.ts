import { readdirSync } from 'node:fs'

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
  await mod.run()
}
process.exit(0)
