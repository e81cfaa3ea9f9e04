import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import test from 'ava'

// The layering rules, checked over the import graph of src/, actors/ and bin/: src/ never
// imports actors/, folders (src/<area>, actors/<family>) never import in a circle, and files
// never do at run time. A folder circle is how a mechanism in the wrong room shows (src/lab using
// a helper of src/cli, which runs the lab); the fix is to move the mechanism, not to silence this
// test. Type-only circles between two files of one folder (interfaces naming each other) are fine.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const TREES = ['src', 'actors', 'bin']
// Static imports and re-exports (group 1: `type` when type-only), side-effect imports, and
// dynamic import() of relative paths.
const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"](\.{1,2}\/[^'"]+)['"]|\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g

interface Edge { from: string, to: string, typeOnly: boolean }

function sourceFiles (dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap(e => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return sourceFiles(path)
    return e.name.endsWith('.ts') ? [path] : []
  })
}

function importGraph (): { files: string[], edges: Edge[], unresolved: string[] } {
  const files = TREES.flatMap(sourceFiles)
  const edges: Edge[] = []
  const unresolved: string[] = []
  for (const from of files) {
    for (const m of readFileSync(join(ROOT, from), 'utf8').matchAll(IMPORT)) {
      const spec = m[2] ?? m[3] as string
      const to = relative(ROOT, resolve(ROOT, dirname(from), spec)).replace(/\.js$/, '.ts')
      if (existsSync(join(ROOT, to))) edges.push({ from, to, typeOnly: m[1] !== undefined })
      else unresolved.push(`${from}: ${spec}`)
    }
  }
  return { files, edges, unresolved }
}

/** The folder a file belongs to for the folder graph: `src/lab`, `actors/agent`, `bin`. */
function folderOf (file: string): string {
  const parts = file.split('/')
  return parts.length > 2 ? parts.slice(0, 2).join('/') : (parts[0] as string)
}

/** Every circle found by a depth-first walk, as `a -> b -> a`. */
function cycles (edges: Array<[string, string]>): string[] {
  const next = new Map<string, Set<string>>()
  for (const [a, b] of edges) {
    if (a === b) continue
    if (!next.has(a)) next.set(a, new Set())
    next.get(a)?.add(b)
  }
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const found: string[] = []
  const visit = (node: string): void => {
    state.set(node, 'open')
    stack.push(node)
    for (const to of next.get(node) ?? []) {
      if (state.get(to) === 'open') found.push([...stack.slice(stack.indexOf(to)), to].join(' -> '))
      else if (!state.has(to)) visit(to)
    }
    stack.pop()
    state.set(node, 'done')
  }
  for (const node of next.keys()) if (!state.has(node)) visit(node)
  return found
}

const graph = importGraph()

test('the import parser resolves every relative import it finds, and finds the known ones', t => {
  t.deepEqual(graph.unresolved, [])
  t.true(graph.files.length > 100, `${graph.files.length} files`)
  const has = (from: string, to: string): boolean => graph.edges.some(e => e.from === from && e.to === to)
  t.true(has('src/cli/commands/lab.ts', 'src/lab/lab.ts'), 'a static import')
  t.true(has('bin/main.ts', 'actors/agent/host.ts'), 'a dynamic import()')
  t.true(has('src/api/control-server.ts', 'src/api/control-api.ts'), 'an import type')
  t.true(graph.edges.some(e => e.from === 'src/api/control-server.ts' && e.to === 'src/api/control-api.ts' && e.typeOnly), 'marked type-only')
  t.true(graph.edges.some(e => e.from === 'src/cli/commands/lab.ts' && e.to === 'src/lab/lab.ts' && !e.typeOnly), 'marked run time')
})

test('src/ never imports actors/', t => {
  const wrong = graph.edges.filter(e => e.from.startsWith('src/') && e.to.startsWith('actors/'))
  t.deepEqual(wrong.map(e => `${e.from} -> ${e.to}`), [])
})

test('no file imports itself through a circle at run time', t => {
  t.deepEqual(cycles(graph.edges.filter(e => !e.typeOnly).map(e => [e.from, e.to])), [])
})

test('no folder (src/<area>, actors/<family>) imports itself through a circle', t => {
  const found = cycles(graph.edges.map(e => [folderOf(e.from), folderOf(e.to)]))
  // Name the file imports behind each circle, so the report says what to move.
  const why = found.map(circle => {
    const hops = circle.split(' -> ')
    return circle + ': ' + hops.slice(1).map((to, i) => {
      const e = graph.edges.find(e => folderOf(e.from) === hops[i] && folderOf(e.to) === to)
      return e === undefined ? '?' : `${e.from} -> ${e.to}`
    }).join(', ')
  })
  t.deepEqual(why, [])
})
