import test from 'ava'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN, tempDir } from '../helpers/cli.js'

/**
 * Runs `roost <args>` from source with a module hook that writes every file URL it loads to
 * `log` (the build keeps the same dynamic imports as chunks: test/build/bundle.test.ts).
 */
async function loadedBy (args: string[], log: string): Promise<{ stdout: string, urls: string[] }> {
  const hook = `export async function load (url, ctx, next) { if (url.startsWith('file:')) (await import('node:fs')).appendFileSync(${JSON.stringify(log)}, url + '\\n'); return await next(url, ctx) }`
  const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}))`
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, BIN, ...args], { timeout: 30_000, env: { ...process.env, ROOST_FROM_SOURCE: '1' } }, (err, out) => {
      if (err !== null) reject(err)
      else resolve(out)
    })
  })
  return { stdout, urls: (await readFile(log, 'utf8')).split('\n').filter(u => u !== '') }
}

test('roost agent … loads the agent\'s commands, not the rest of the CLI', async t => {
  const dir = await tempDir(t)
  const agent = await loadedBy(['agent', '--help'], join(dir, 'agent.log'))
  t.regex(agent.stdout, /start/)
  t.true(agent.urls.some(u => /\/cli\/commands\/agent\.[jt]s$/.test(u)), 'the agent commands are loaded')
  const others = agent.urls.filter(u => /\/cli\/commands\/(?!agent\.)[^/]+$/.test(u))
  t.deepEqual(others, [], 'no other command is loaded')
  const help = await loadedBy(['--help'], join(dir, 'help.log'))
  t.regex(help.stdout, /lab/, 'any other command line gets the whole tree')
  t.true(help.urls.some(u => /\/cli\/commands\/lab\.[jt]s$/.test(u)))
})
