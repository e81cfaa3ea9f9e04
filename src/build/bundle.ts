import { rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build, type BuildOptions } from 'esbuild'

/**
 * The entry points of the build: the CLI (and the agent it starts) and the modules the agent's
 * worker threads run. Each becomes `dist/<name>.js`; code they share goes into chunks beside
 * them, and a module loaded with `import()` stays a chunk of its own, loaded when first used.
 * Worker modules sit beside every chunk, so `startWorkerModule` finds them from whichever chunk
 * starts the thread.
 */
export const BUNDLE_ENTRIES: Readonly<Record<string, string>> = Object.freeze({
  main: 'bin/main.ts',
  'transport-worker': 'src/transport/transport-worker.ts',
  'data-plane-worker': 'src/proxy/data-plane-worker.ts'
})

/**
 * Packages left to `node_modules`: those that load a native addon from a path beside their own
 * files (better-sqlite3, sodium-native, udx-native, msgpackr-extract and the bare-* modules
 * hyperswarm's stack pulls in through require-addon); what those require that bundled code uses
 * too (streamx and its parts, b4a), so that one copy is loaded, not a bundled one beside theirs;
 * the packages roost loads with `import()` on first use (@peculiar/x509, reflect-metadata,
 * acme-client: CommonJS, whose named exports a bundle's `import()` would not give, only its
 * default); and pino-pretty, loaded only for a terminal's logs.
 */
export const BUNDLE_EXTERNAL: readonly string[] = Object.freeze([
  'better-sqlite3', 'bindings', 'sodium-native', 'which-runtime', 'udx-native', 'msgpackr-extract',
  'node-gyp-build', 'require-addon', 'bare-*', 'streamx', 'events-universal', 'fast-fifo',
  'text-decoder', 'b4a', '@peculiar/x509', 'reflect-metadata', 'acme-client', 'pino-pretty'
])

/** CommonJS packages bundled into ES modules still call `require` and read `__filename`/`__dirname`. */
const COMMONJS_GLOBALS = [
  "import { createRequire as __roostRequire } from 'node:module'",
  "import { fileURLToPath as __roostPath } from 'node:url'",
  'const require = __roostRequire(import.meta.url)',
  'const __filename = __roostPath(import.meta.url)',
  "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'))"
].join(';')

/**
 * What `npm run build` makes: the agent's modules and the packages it uses as a few ES modules
 * in `dist/`. Loaded as ~520 separate modules, an agent's main isolate held every module's
 * record, namespace and source (the TSDoc too) for good; bundled, an idle agent is ~10 MB smaller
 * at the messaging bench's reading and reaches its membership sooner. Whitespace and syntax are
 * minified, identifiers not (stack traces read as in the source), and source maps written beside
 * the code for `node --enable-source-maps`. Names are not pinned (`keepNames` wraps every function
 * and class: ~1 MB of an idle agent's heap): esbuild renames a top-level name only where two
 * bundled modules' collide, which test/build/bundle.test.ts keeps from happening to roost's
 * classes (a typed error's `name` is its class's). `outdir` is relative to `root`, and
 * must stay under it: the externals are found in `root`'s node_modules from there.
 */
export function bundleOptions (root: string, outdir = 'dist'): BuildOptions {
  return {
    absWorkingDir: root,
    entryPoints: Object.entries(BUNDLE_ENTRIES).map(([out, input]) => ({ in: input, out })),
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    chunkNames: 'chunk-[hash]',
    external: [...BUNDLE_EXTERNAL],
    banner: { js: COMMONJS_GLOBALS },
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    logLevel: 'warning'
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  await rm(new URL('../../dist', import.meta.url), { recursive: true, force: true })
  await build(bundleOptions(root))
}
