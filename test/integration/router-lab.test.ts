import anyTest, { type ExecutionContext, type TestFn } from 'ava'
import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { DeployResult } from '../../src/cli/commands/deploy.js'
import type { LabHost } from '../../src/lab/lab.js'
import { roost } from '../helpers/cli.js'
import { retry } from '../helpers/retry.js'
import { requireParts } from '../helpers/requirements.js'
import {
  CA_NAME, curlIn, deploy, echoOf, LAB_DOMAIN, machineOn, received, roostIn, routable, routesOf, startRouterLab, tunnelBytes, type RouterLab
} from '../helpers/router-lab.js'

// The router across a 3-host lab with WireGuard (issue 12's "Done when"): HTTP and HTTPS from
// curl and openssl with the right certificate per SNI, PROXY v1/v2 at the app, the local machine
// first and the closest other host's next (through the tunnel), replay, and `roost deploy` /
// `roost routes`. Faults (unhealthy machines, limits, bad input, bad rows) are in router-lab-faults.

/** Deploy results by app; filled by the first test (tests get a shallow copy of the context). */
interface Ctx { rl: RouterLab, apps: Record<string, DeployResult> }
const test = anyTest as TestFn<Ctx>
const lab3 = await requireParts(test, ['lab', 'wireguard', 'wg', 'curl', 'openssl'])

/** h1 and h2 share a region, h3 is far away. */
const REGIONS = ['ams', 'ams', 'sin']
const WEB = `web.${LAB_DOMAIN}`
const ECHO = `echo.${LAB_DOMAIN}`
const SHOP = 'shop.example.test'

lab3.before(async t => {
  t.context.apps = {}
  t.context.rl = await startRouterLab(REGIONS, 'roost-router-lab-')
})

lab3.afterAlways(async t => {
  await t.context.rl?.stop()
})

const hosts = (t: ExecutionContext<Ctx>): [LabHost, LabHost, LabHost] => t.context.rl.hosts as [LabHost, LabHost, LabHost]

lab3.serial('roost deploy publishes the apps through the router; every host listens on their ports; roost routes shows listeners and candidates', async t => {
  const { rl } = t.context
  const [h1, h2, h3] = hosts(t)
  const web = await deploy(h1, 'roost.toml', ['--host', 'h1,h2,h3', '--count', '3'])
  t.deepEqual(web.machines.map(m => `${m.action}@${m.hostName}/${m.region}`).sort(), ['created@h1/ams', 'created@h2/ams', 'created@h3/sin'])
  const echo = await deploy(h3, 'echo.roost.toml', ['--host', 'h2', '--count', '1'])
  t.deepEqual(echo.machines.map(m => `${m.action}@${m.hostName}`), ['created@h2'])
  t.context.apps.web = web
  t.context.apps.echo = echo

  for (const h of [h1, h2, h3]) {
    await routable(h, 'web', web.machines.map(m => m.id))
    const v = await routable(h, 'echo', echo.machines.map(m => m.id))
    t.deepEqual(v.listeners.map(l => `${l.port}:${l.state}:${l.tls ? 'tls' : l.http ? 'http' : 'tcp'}:${[...l.apps].sort().join('+')}`).sort(),
      ['443:listening:tls:echo+web', '80:listening:http:web', '9001:listening:tcp:echo', '9002:listening:http:echo'], `${h.name}'s listeners`)
    t.deepEqual(v.rejected, [], `${h.name} rejected nothing`)
  }

  const text = await roost(['routes', '--data-dir', h1.dataDir])
  t.is(text.code, 0, text.stderr)
  t.regex(text.stdout, /^LISTENERS$/m)
  t.regex(text.stdout, /^443\s+0\.0\.0\.0\s+yes\s+no\s+listening\s+(web,echo|echo,web)$/m)
  t.regex(text.stdout, /^APP web {2}web\.roost\.internal, shop\.example\.test$/m)
  t.regex(text.stdout, /ports: 80→8080 \[http\] {2}443→8080 \[tls,http\]/)
  for (const m of web.machines) {
    t.regex(text.stdout, new RegExp(`^\\s+${m.id}\\s+${m.hostName === 'h1' ? 'local' : m.hostName}\\s+${m.region}\\s+started\\s+passing\\s+yes\\s`, 'm'), `${m.id} is a candidate`)
  }
  const json = await roost(['routes', 'echo', '--json', '--data-dir', h2.dataDir])
  const view = JSON.parse(json.stdout) as Awaited<ReturnType<typeof routesOf>>
  t.deepEqual(view.apps.map(a => a.app), ['echo'])
  t.deepEqual(view.apps[0]?.machines.map(m => [m.id, m.local, m.routable]), [[machineOn(echo, 'h2'), true, true]])
  t.is(view.backhaul.mode, 'wireguard')
})

lab3.serial('HTTP and HTTPS reach the apps from curl; openssl s_client gets the right certificate for each server name', async t => {
  const { rl, apps: { web, echo } } = t.context
  if (web === undefined || echo === undefined) throw new Error('the apps were not deployed')
  const [h1, h2, h3] = hosts(t)
  const webOn1 = machineOn(web, 'h1')

  const plain = await curlIn(rl.lab, h3, `http://${h1.address}/hello`, ['-H', `Host: ${WEB}`])
  const info = echoOf(plain)
  t.is(info.machine, webOn1, 'h1\'s router serves from its own machine')
  t.is(info.path, '/hello')
  t.is(info.headers['x-forwarded-for'], h3.address, 'the client\'s namespace address')
  t.is(info.headers['roost-client-port'], String(plain.localPort))
  t.is(info.headers['x-forwarded-proto'], 'http')
  t.is(plain.headers['roost-region'], 'ams')
  t.regex(plain.headers['roost-request-id'] ?? '', /^[0-9a-f]{24}-ams$/)

  const resolve = (name: string): string[] => ['--resolve', `${name}:443:${h1.address}`, '--cacert', rl.caFile]
  const secure = await curlIn(rl.lab, h3, `https://${WEB}/secure`, resolve(WEB))
  t.is(echoOf(secure).machine, webOn1)
  t.is(echoOf(secure).headers['x-forwarded-proto'], 'https')
  const other = await curlIn(rl.lab, h3, `https://${ECHO}/other`, resolve(ECHO))
  t.is(echoOf(other).machine, machineOn(echo, 'h2'), 'the other app on port 443, through h1\'s router to h2')

  // A certificate of the user's own (self-signed) for the custom hostname, added on h2: every router serves it.
  const key = join(rl.dir, 'shop-key.pem')
  const cert = join(rl.dir, 'shop.pem')
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${SHOP}`, '-addext', `subjectAltName=DNS:${SHOP}`])
  const added = await roost(['certs', 'add', SHOP, '--app', 'web', '--cert', cert, '--key', key, '--data-dir', h2.dataDir])
  t.is(added.code, 0, added.stderr)

  const served = async (name: string, ca: string): Promise<{ subject: string, issuer: string, san: string, verify: string }> => {
    const out = await rl.lab.exec(h3.name, 'sh', ['-c',
      `out=$(openssl s_client -connect ${h1.address}:443 -servername ${name} -CAfile ${ca} </dev/null 2>&1); ` +
      'echo "$out" | grep "Verify return code"; echo "$out" | openssl x509 -noout -subject -issuer -ext subjectAltName'])
    const line = (re: RegExp): string => re.exec(out)?.[1]?.trim() ?? ''
    return { verify: line(/Verify return code: (.*)/), subject: line(/^subject=(.*)$/m), issuer: line(/^issuer=(.*)$/m), san: line(/X509v3 Subject Alternative Name:\s*\n\s*(.*)/) }
  }
  const webCert = await served(WEB, rl.caFile)
  t.deepEqual(webCert, { verify: '0 (ok)', subject: `CN = ${WEB}`, issuer: `CN = ${CA_NAME}`, san: `DNS:${WEB}` })
  const echoCert = await served(ECHO, rl.caFile)
  t.deepEqual(echoCert, { verify: '0 (ok)', subject: `CN = ${ECHO}`, issuer: `CN = ${CA_NAME}`, san: `DNS:${ECHO}` })
  // Until the row reaches h1 by gossip, h1's CA issues one on demand (the name is routed).
  const shopCert = await retry(async () => { const c = await served(SHOP, cert); return c.issuer === `CN = ${SHOP}` && c }, { timeoutMs: 20_000, what: `h1 serving the certificate added on h2 for ${SHOP}` })
  t.deepEqual(shopCert, { verify: '0 (ok)', subject: `CN = ${SHOP}`, issuer: `CN = ${SHOP}`, san: `DNS:${SHOP}` }, 'the user\'s certificate, not one from the CA')
  const shop = await curlIn(rl.lab, h3, `https://${SHOP}/shop`, ['--resolve', `${SHOP}:443:${h1.address}`, '--cacert', cert])
  t.is(echoOf(shop).machine, webOn1, 'the custom hostname routes to its app')
  // A server name no app has gets no certificate: the handshake fails.
  await t.throwsAsync(curlIn(rl.lab, h3, 'https://nobody.example.test/', ['--resolve', `nobody.example.test:443:${h1.address}`, '--cacert', rl.caFile]), { message: /SSL|TLS|alert|handshake/i })
})

lab3.serial('PROXY v1 (pass-through port) and v2 (http port) headers arrive intact at the app, naming the client\'s address and port', async t => {
  const { rl, apps: { echo } } = t.context
  if (echo === undefined) throw new Error('the apps were not deployed')
  const [h1, h2, h3] = hosts(t)
  const echoOn2 = machineOn(echo, 'h2')
  // h3's client → h1's router → (backhaul through WireGuard) → h2's router → the machine.
  const v1 = await curlIn(rl.lab, h3, `http://${h1.address}:9001/v1`)
  const i1 = echoOf(v1)
  t.is(i1.machine, echoOn2)
  t.deepEqual(i1.proxy, { version: 1, line: `PROXY TCP4 ${h3.address} ${h1.address} ${v1.localPort} 9001` })
  t.is(v1.localIp, h3.address)
  t.is(i1.headers['x-forwarded-for'], undefined, 'a pass-through port leaves the bytes alone')

  const v2 = await curlIn(rl.lab, h3, `http://${h1.address}:9002/v2`, ['-H', `Host: ${ECHO}`])
  const i2 = echoOf(v2)
  t.is(i2.machine, echoOn2)
  t.deepEqual(i2.proxy, { version: 2, command: 1, family: 0x11, source: h3.address, sourcePort: v2.localPort, destination: h1.address, destinationPort: 9002 })
  t.is(i2.headers['x-forwarded-for'], h3.address)

  // And from a client on the machine's own host (no backhaul).
  const local = await curlIn(rl.lab, h2, `http://${h2.address}:9001/local`)
  t.deepEqual(echoOf(local).proxy, { version: 1, line: `PROXY TCP4 ${h2.address} ${h2.address} ${local.localPort} 9001` })
  const seen = (await received(echoOn2)).map(r => [r.path, (r.proxy as { version?: number } | null)?.version ?? null])
  t.deepEqual(seen.filter(([p]) => p === '/v1' || p === '/v2' || p === '/local'), [['/v1', 1], ['/v2', 2], ['/local', 1]])
})

lab3.serial('roost-replay sends a request to the named instance, or to a machine in the named region', async t => {
  const { rl, apps: { web } } = t.context
  if (web === undefined) throw new Error('the apps were not deployed')
  const [h1] = hosts(t)
  const [on1, on3] = [machineOn(web, 'h1'), machineOn(web, 'h3')]
  const byInstance = await curlIn(rl.lab, h1, `http://${h1.address}/replay?to=instance=${on3}`, ['-H', `Host: ${WEB}`])
  const i = echoOf(byInstance)
  t.is(i.machine, on3, 'answered by the named instance (on h3)')
  t.is(i.headers['roost-replay-src'], `instance=${on1};region=ams`, 'the app knows where the request came from')
  t.is(byInstance.headers['roost-region'], 'sin')
  t.is(byInstance.headers['roost-replay'], undefined, 'the replay header is not passed to the client')

  // A POST: the body is kept by h1's router and sent again with the replay, through the tunnel.
  const byRegion = await curlIn(rl.lab, h1, `http://${h1.address}/replay?to=region=sin`, ['-H', `Host: ${WEB}`, '--data-binary', 'order=42'])
  t.like(echoOf(byRegion), { machine: on3, method: 'POST', body: 'order=42' }, 'the one machine in sin, with the body')
  const first = (await received(on1)).filter(r => r.path === '/replay')
  t.deepEqual(first.map(r => r.replaySrc), [null, null], 'h1\'s machine saw each request once, before the replay')
  t.deepEqual((await received(on3)).filter(r => r.path === '/replay').map(r => r.replaySrc), [`instance=${on1};region=ams`, `instance=${on1};region=ams`])
})

lab3.serial('a request lands on the local machine while it is healthy, else on the closest other host\'s, through the WireGuard tunnel', async t => {
  const { rl, apps: { web } } = t.context
  if (web === undefined) throw new Error('the apps were not deployed')
  const [h1, h2, h3] = hosts(t)
  for (const h of [h1, h2, h3]) {
    for (let i = 0; i < 3; i++) {
      t.is(echoOf(await curlIn(rl.lab, h, `http://${h.address}/local`, ['-H', `Host: ${WEB}`])).machine, machineOn(web, h.name), `${h.name} serves from its own machine`)
    }
  }

  const on1 = machineOn(web, 'h1')
  const stopped = await roostIn(h1, ['machines', 'stop', on1, '--app', 'web', '--data-dir', h1.dataDir])
  t.is(stopped.code, 0, stopped.stderr)
  await routable(h1, 'web', [machineOn(web, 'h2'), machineOn(web, 'h3')])

  const n = 20
  const pad = 20_000
  const before = await tunnelBytes(rl.lab, h1)
  const accepted = (await routesOf(h2)).backhaul.accepted
  const counted = (await routesOf(h1, 'web')).apps[0]?.counters['2xx'] ?? 0
  const h3Before = (await received(machineOn(web, 'h3'))).length
  for (let i = 0; i < n; i++) {
    const a = await curlIn(rl.lab, h1, `http://${h1.address}/far?pad=${pad}`, ['-H', `Host: ${WEB}`])
    t.is(echoOf(a).machine, machineOn(web, 'h2'), 'h2 (same region) rather than h3')
    t.is(a.headers['roost-region'], 'ams')
  }
  const after = await tunnelBytes(rl.lab, h1)
  const delta = (name: string): { rx: number, tx: number } => ({ rx: (after.get(name)?.rx ?? 0) - (before.get(name)?.rx ?? 0), tx: (after.get(name)?.tx ?? 0) - (before.get(name)?.tx ?? 0) })
  t.true(delta('h2').rx >= n * pad, `h1 received ${delta('h2').rx} bytes from h2 through the tunnel`)
  t.true(delta('h2').tx > 0)
  t.true(delta('h3').rx < (n * pad) / 4, `and only gossip from h3 (${delta('h3').rx} bytes)`)
  t.true((await routesOf(h2)).backhaul.accepted > accepted, 'h2\'s router accepted the backhaul')
  t.is((await routesOf(h1, 'web')).apps[0]?.counters['2xx'], counted + n, 'h1\'s router counted the answers')
  t.is((await received(machineOn(web, 'h3'))).length, h3Before, 'h3\'s machine received nothing')

  // Big bodies stream both ways through the backhaul, intact.
  const upload = join(rl.dir, 'upload.bin')
  const bytes = randomBytes(8 << 20)
  await writeFile(upload, bytes)
  const big = echoOf(await curlIn(rl.lab, h1, `http://${h1.address}/upload?pad=${1 << 20}`, ['-H', `Host: ${WEB}`, '--data-binary', `@${upload}`, '-H', 'content-type: application/octet-stream']))
  t.like(big, { machine: machineOn(web, 'h2'), method: 'POST', bodyLength: bytes.byteLength, bodySha256: createHash('sha256').update(bytes).digest('hex') })
  t.is(big.pad?.length, 1 << 20)
})
