#!/usr/bin/env node
// Runs the compiled CLI from dist/ (built by `npm ci`/`npm run build`); without a build it
// falls back to compiling the TypeScript on the fly, which starts about three times slower.
import { existsSync } from 'node:fs'

const compiled = new URL('../dist/main.js', import.meta.url)
if (existsSync(compiled) && process.env.ROOST_FROM_SOURCE !== '1') {
  await import(compiled.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('./main.ts')
}
