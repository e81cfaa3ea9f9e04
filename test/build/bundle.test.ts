import test from 'ava'
import { execFile } from 'node:child_process'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { build, type Metafile } from 'esbuild'
import { BUNDLE_ENTRIES, BUNDLE_EXTERNAL, bundleOptions } from '../../src/build/bundle.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
// Under the package root: the bundle finds its externals in the root's node_modules.
const outdir = `.test-dist-${process.pid}`
let metafile: Metafile
/** roost's own source files in the bundle, and the bundle's code files, read once. */
let sources: string[]
let chunks: string[]

test.before(async () => {
  metafile = (await build({ ...bundleOptions(root, outdir), metafile: true, logLevel: 'silent' })).metafile
  const read = async (files: string[]): Promise<string[]> => await Promise.all(files.map(async f => await readFile(join(root, f), 'utf8')))
  sources = await read(Object.keys(metafile.inputs).filter(i => /^(src|actors|bin)\//.test(i)))
  chunks = await read(Object.keys(metafile.outputs).filter(o => o.endsWith('.js')))
})
test.after.always(async () => { await rm(join(root, outdir), { recursive: true, force: true }) })

test('every entry is a module at the top of the output, beside every chunk (worker threads are started from whichever chunk holds their starter)', async t => {
  const files = (await readdir(join(root, outdir))).filter(f => f.endsWith('.js'))
  for (const name of Object.keys(BUNDLE_ENTRIES)) t.true(files.includes(`${name}.js`), name)
  t.true(files.length > Object.keys(BUNDLE_ENTRIES).length, 'shared code and lazily loaded modules are chunks of their own')
  t.deepEqual(Object.keys(metafile.outputs).filter(o => o.endsWith('.js') && !o.startsWith(`${outdir}/`)), [])
  t.deepEqual(Object.keys(metafile.outputs).filter(o => o.endsWith('.js') && o.slice(outdir.length + 1).includes('/')), [])
})

test('packages with native addons stay in node_modules, and the agent code is in the bundle', t => {
  const inputs = Object.keys(metafile.inputs)
  for (const pkg of ['better-sqlite3', 'sodium-native', 'udx-native', 'streamx', 'b4a']) {
    t.false(inputs.some(i => i.includes(`node_modules/${pkg}/`)), `${pkg} is not bundled (one copy, shared with the addons that require it)`)
    t.true(BUNDLE_EXTERNAL.includes(pkg))
  }
  for (const file of ['actors/agent/host.ts', 'src/transport/transport-worker.ts', 'src/runtime/system.ts']) t.true(inputs.includes(file), file)
  t.true(inputs.some(i => i.includes('node_modules/hyperswarm/')), 'pure-JS packages are bundled')
})

/** The inputs of `output` and of every chunk it imports statically: what loading it loads. */
function loadedWith (output: string): Set<string> {
  const outputs = new Set<string>()
  const visit = (out: string): void => {
    if (outputs.has(out)) return
    outputs.add(out)
    for (const i of metafile.outputs[out]!.imports) if (i.kind === 'import-statement' && metafile.outputs[i.path] !== undefined) visit(i.path)
  }
  visit(output)
  return new Set([...outputs].flatMap(o => Object.keys(metafile.outputs[o]!.inputs)))
}
const outputOf = (input: string): string => Object.keys(metafile.outputs).find(o => metafile.outputs[o]!.inputs[input] !== undefined)!

test('every package the source loads with import() stays in node_modules (a bundle would hand a CommonJS one over with its default export only)', t => {
  const packages = new Set(sources.flatMap(s => [...s.matchAll(/\bimport\('([^.'][^']*)'\)/g)].map(m => m[1]!)).filter(p => !p.startsWith('node:')))
  t.true(packages.has('@peculiar/x509'))
  t.deepEqual([...packages].filter(p => !BUNDLE_EXTERNAL.includes(p)), [])
})

test('what the source loads on first use stays a chunk of its own: the agent host, and each CLI command', t => {
  const cli = loadedWith(`${outdir}/main.js`)
  t.false(cli.has('actors/agent/host.ts'))
  t.false(cli.has('src/cli/commands/agent.ts'))
  const agentCommand = loadedWith(outputOf('src/cli/commands/agent.ts'))
  t.false(agentCommand.has('src/cli/commands/lab.ts'), '`roost agent` does not load the other commands')
  t.false(agentCommand.has('actors/agent/host.ts'), 'nor the agent until it starts one')
  t.true(loadedWith(outputOf('actors/agent/host.ts')).has('src/runtime/system.ts'))
})

test('no class of roost\'s is renamed by the bundle (esbuild renames a top-level name two bundled modules share; defineError\'s classes name themselves)', t => {
  const classes = new Set(sources.flatMap(s => [...s.matchAll(/\bclass ([A-Z][A-Za-z0-9]*)/g)].map(m => m[1]!)))
  t.true(classes.has('RoostError') && classes.size > 10, `found ${classes.size} classes`)
  const code = chunks.join('\n')
  const renamed = [...classes].filter(c => [...code.matchAll(new RegExp(`\\b${c}\\d+\\b`, 'g'))].some(m => !classes.has(m[0])))
  t.deepEqual(renamed, [])
})

test('the built CLI runs, and typed errors keep their class names', async t => {
  const { stdout } = await run(process.execPath, [join(root, outdir, 'main.js'), '--version'])
  t.regex(stdout, /^\d+\.\d+\.\d+/)
  const err = await run(process.execPath, [join(root, outdir, 'main.js'), 'agent', 'start', '--name', 'x', '--data-dir', join(root, outdir, 'none')], { env: { ...process.env, ROOST_SECRET: '' } }).catch((e: { stdout: string, stderr: string }) => e)
  t.regex(`${err.stdout}${err.stderr}`, /"type":"ConfigError"/)
  t.true(chunks.some(c => c.includes('--v8-pool-size=')), 'agent-heap.ts is in the bundle')
  t.false(chunks.some(c => c.includes('during the start-up burst')), 'its TSDoc is not: V8 keeps every module source it loads')
})
