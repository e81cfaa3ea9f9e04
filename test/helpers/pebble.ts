import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { join } from 'node:path'
import type { ExecutionContext } from 'ava'
import { createCa, issueLeaf } from '../../src/proxy/tls/dev-ca.js'
import { tempDir } from './cli.js'
import { freePort } from '../proxy/dp-harness.js'
import { retry } from './retry.js'

/** A running Pebble (Debian's `pebble`, the ACME test server) with its own HTTPS CA. */
export interface Pebble {
  directory: string
  /** The CA of Pebble's own HTTPS (ROOST_ACME_CA_FILE): not the CA that issues certificates. */
  caFile: string
  process: ChildProcess
  /** GET on the management port (`/roots/0`, `/intermediates/0`): Pebble's issuing chain, new at every start. */
  management: (path: string) => Promise<string>
  /** Pebble's output so far (for failure messages). */
  log: () => string
}

export interface PebbleOptions {
  /** Where HTTP-01 validation connects on the resolved address. */
  httpPort: number
  /** A DNS server (host:port) resolving the test names. */
  dnsServer: string
  /** Lifetime of issued certificates, seconds (Pebble's default: 5 years). */
  validitySeconds?: number
}

async function get (url: string, ca: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5_000 }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('timeout', () => { req.destroy(new Error('timed out')) })
    req.on('error', reject)
    req.end()
  })
}

/** Starts Pebble on free 127.0.0.1 ports; it is killed by pid in teardown. */
export async function startPebble (t: ExecutionContext, opts: PebbleOptions): Promise<Pebble> {
  const dir = await tempDir(t, 'roost-pebble-')
  const ca = await createCa({ name: 'pebble test https CA', dir: join(dir, 'ca') })
  const leaf = await issueLeaf(ca, { names: ['localhost', '127.0.0.1'], days: 2 })
  const caFile = join(dir, 'https-ca.pem')
  await writeFile(caFile, ca.certPem)
  await writeFile(join(dir, 'cert.pem'), leaf.certPem)
  await writeFile(join(dir, 'key.pem'), leaf.keyPem)
  const [apiPort, mgmtPort, tlsPort] = [await freePort(), await freePort(), await freePort()]
  await writeFile(join(dir, 'pebble.json'), JSON.stringify({
    pebble: {
      listenAddress: `127.0.0.1:${apiPort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: join(dir, 'cert.pem'),
      privateKey: join(dir, 'key.pem'),
      httpPort: opts.httpPort,
      tlsPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(opts.validitySeconds === undefined ? {} : { certificateValidityPeriod: opts.validitySeconds })
    }
  }))
  let output = ''
  const child = spawn('pebble', ['-config', join(dir, 'pebble.json'), '-dnsserver', opts.dnsServer], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
    const exited = new Promise(resolve => child.once('exit', resolve))
    process.kill(child.pid, 'SIGKILL')
    await exited
  })
  const directory = `https://127.0.0.1:${apiPort}/dir`
  await retry(async () => {
    if (child.exitCode !== null) throw new Error(`pebble exited (${child.exitCode}): ${output}`)
    return await get(directory, ca.certPem).then(r => r.status === 200, () => false)
  }, { timeoutMs: 20_000, what: 'pebble answering its directory' })
  return {
    directory,
    caFile,
    process: child,
    management: async (path) => {
      const r = await get(`https://127.0.0.1:${mgmtPort}${path}`, ca.certPem)
      if (r.status !== 200) throw new Error(`pebble management ${path}: HTTP ${r.status}`)
      return r.body
    },
    log: () => output
  }
}
