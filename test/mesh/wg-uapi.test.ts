import test, { type ExecutionContext } from 'ava'
import { mkdir, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { parseUapiGet, uapiSet } from '../../src/mesh/wg-uapi.js'
import { socketPath, WG_SOCKET_DIR } from '../../src/mesh/wireguard-process.js'

const pub1 = Buffer.alloc(32, 1)
const pub2 = Buffer.alloc(32, 2)

test('a UAPI get reply parses like `wg show dump`, with base64 keys and no private key', t => {
  const text = [
    `private_key=${Buffer.alloc(32, 9).toString('hex')}`,
    'listen_port=51820',
    `public_key=${pub1.toString('hex')}`,
    'endpoint=10.77.0.11:51820',
    'last_handshake_time_sec=1700000000',
    'last_handshake_time_nsec=5',
    'tx_bytes=1234',
    'rx_bytes=5678',
    'persistent_keepalive_interval=15',
    'allowed_ip=fd00::1/128',
    'allowed_ip=fd00::2/128',
    `public_key=${pub2.toString('hex')}`,
    'last_handshake_time_sec=0',
    'tx_bytes=0',
    'rx_bytes=0',
    'persistent_keepalive_interval=0',
    'protocol_version=1',
    'errno=0',
    '', ''
  ].join('\n')
  const s = parseUapiGet(text)
  t.is(s.listenPort, 51820)
  t.deepEqual(s.peers, [
    { publicKey: pub1.toString('base64'), endpoint: '10.77.0.11:51820', allowedIps: ['fd00::1/128', 'fd00::2/128'], latestHandshake: 1700000000, rxBytes: 5678, txBytes: 1234, keepaliveS: 15 },
    { publicKey: pub2.toString('base64'), endpoint: null, allowedIps: [], latestHandshake: 0, rxBytes: 0, txBytes: 0, keepaliveS: null }
  ])
  t.false(JSON.stringify(s).includes(Buffer.alloc(32, 9).toString('hex')))
})

test('errors and garbage are typed', t => {
  t.throws(() => parseUapiGet('errno=22\n\n'), { code: 'ERR_MESH' })
  t.throws(() => parseUapiGet('listen_port=1\n'), { code: 'ERR_MESH' }, 'no errno line: cut short')
  t.throws(() => parseUapiGet('garbage\nerrno=0\n'), { code: 'ERR_MESH' })
  t.throws(() => parseUapiGet('public_key=zz\nerrno=0\n'), { code: 'ERR_MESH' })
})

/** A stand-in for wireguard-go's control socket: records each request, answers with `errno`. */
async function fakeUapi (t: ExecutionContext, ifname: string, errno: number): Promise<string[]> {
  const got: string[] = []
  await mkdir(WG_SOCKET_DIR, { recursive: true })
  const server: Server = createServer(s => {
    let text = ''
    s.on('data', (c: Buffer) => {
      text += c.toString('utf8')
      if (text.endsWith('\n\n')) { got.push(text); s.end(`errno=${errno}\n\n`) }
    })
  })
  await new Promise<void>(resolve => { server.listen(socketPath(ifname), resolve) })
  t.teardown(async () => { await new Promise(resolve => { server.close(resolve) }); await rm(socketPath(ifname), { force: true }) })
  return got
}

const uapiTest = process.getuid?.() === 0 ? test : test.skip

uapiTest('uapiSet sends one set=1 request and resolves on errno=0; another errno or no socket is a MeshError', async t => {
  const ok = `rt-ok-${process.pid}`.slice(0, 15)
  const got = await fakeUapi(t, ok, 0)
  await uapiSet(ok, 'listen_port=1\n')
  t.deepEqual(got, ['set=1\nlisten_port=1\n\n'])
  const bad = `rt-bad-${process.pid}`.slice(0, 15)
  await fakeUapi(t, bad, 22)
  await t.throwsAsync(uapiSet(bad, 'listen_port=1\n'), { code: 'ERR_MESH', message: /errno 22/ })
  await t.throwsAsync(uapiSet(`rt-none-${process.pid}`.slice(0, 15), 'listen_port=1\n'), { code: 'ERR_MESH' })
})
