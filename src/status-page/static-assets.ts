import { readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, extname, join } from 'node:path'
import { packageRoot } from '../cli/config.js'

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

/** One file the page needs. */
export interface StaticAsset {
  body: Buffer
  contentType: string
}

/**
 * The status page's files by URL path: `/status` (index.html), `/status/assets/<file>` (this
 * folder's assets/, shipped as source: there is no build step for the page, so the same files
 * serve a checkout run through tsx and the built dist/) and `/status/vendor/htm-preact.js` (htm's
 * one-module bundle of preact, from node_modules). Only files that exist at start are served.
 */
export interface StaticAssets {
  has: (path: string) => boolean
  /** The file's bytes (read once, then kept); undefined for a path that is not one of them. */
  get: (path: string) => Promise<StaticAsset | undefined>
}

/** Where the page's own files are: beside this module in a checkout, under the package root for dist/. */
export function assetsDir (): string {
  return join(packageRoot(), 'src', 'status-page', 'assets')
}

/** htm's standalone module (htm + preact + hooks in one ES module file). */
export function htmPreactFile (): string {
  const main = createRequire(import.meta.url).resolve('htm')
  return join(dirname(dirname(main)), 'preact', 'standalone.module.js')
}

export function createStaticAssets (init: { dir?: string } = {}): StaticAssets {
  const dir = init.dir ?? assetsDir()
  const files = new Map<string, string>([['/status', join(dir, 'index.html')], ['/status/vendor/htm-preact.js', htmPreactFile()]])
  for (const name of readdirSync(dir)) {
    if (name !== 'index.html' && TYPES[extname(name)] !== undefined) files.set(`/status/assets/${name}`, join(dir, name))
  }
  const cache = new Map<string, StaticAsset>()
  return {
    has: (path) => files.has(path),
    async get (path) {
      const cached = cache.get(path)
      if (cached !== undefined) return cached
      const file = files.get(path)
      if (file === undefined) return undefined
      const asset = { body: await readFile(file), contentType: TYPES[extname(file)] ?? 'application/octet-stream' }
      cache.set(path, asset)
      return asset
    }
  }
}
