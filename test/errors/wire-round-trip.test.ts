import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import test from 'ava'
import { createMachinesClient } from '../../src/api/machines/client.js'
import * as machinesErrors from '../../src/api/machines/errors.js'
import * as appConfigErrors from '../../src/app-config/errors.js'
import * as proxyErrors from '../../src/proxy/errors.js'
import * as certErrors from '../../src/proxy/tls/errors.js'
import * as placementErrors from '../../src/placement/errors.js'
import * as eventErrors from '../../src/events/errors.js'
import * as acmeErrors from '../../src/acme/errors.js'
import { createMachinesApiServer } from '../../src/api/machines/http-server.js'
import type { MachinesBackend } from '../../src/api/machines/schemas.js'
import type { ControlApi } from '../../src/api/control-api.js'
import { connectControl } from '../../src/api/control-client.js'
import { createControlServer } from '../../src/api/control-server.js'
import { createCodec } from '../../src/codec/codec.js'
import * as errors from '../../src/errors/errors.js'
import { RejectionError, RoostError } from '../../src/errors/roost-error.js'
import { silentLogger } from '../../src/log/logger.js'
import { systemClock } from '../../src/runtime/clock.js'
import { createRemoting } from '../../src/runtime/remoting.js'
import { createMemoryNetwork } from '../../src/transport/memory-transport.js'
import { randomHostId } from '../helpers/fixtures.js'

type ErrorClass = (new (message: string, details?: Record<string, unknown>) => RoostError) & { code: string }

// Every error class the modules export, found at run time so a class added later is covered too.
const CLASSES: Array<[string, ErrorClass]> = [errors, machinesErrors, appConfigErrors, proxyErrors, certErrors, placementErrors, eventErrors, acmeErrors].flatMap(mod =>
  Object.entries(mod).filter((entry): entry is [string, ErrorClass] =>
    typeof entry[1] === 'function' && entry[1].prototype instanceof RoostError))

function sample (name: string, cls: ErrorClass): RoostError {
  return new cls(`${name} happened: ünïcode and "quotes"`, { name, n: 7, nested: { list: [1, 'two', null] } })
}

function sameError (t: import('ava').ExecutionContext, got: unknown, name: string, cls: ErrorClass, path: string): void {
  const sent = sample(name, cls)
  t.true(got instanceof cls, `${name} via ${path} came back as ${(got as Error)?.constructor?.name}`)
  if (!(got instanceof RoostError)) return
  t.is(got.constructor, cls, `${name} via ${path}`)
  t.is(got.name, name, `${name} via ${path}`)
  t.is(got.code, cls.code, `${name} via ${path}`)
  t.is(got.message, sent.message, `${name} via ${path}`)
  t.deepEqual(got.details, sent.details, `${name} via ${path}`)
  t.is(got instanceof RejectionError, sent instanceof RejectionError, `${name} via ${path}: rejection or not`)
}

test('the enumeration finds the error classes of both modules, each named as exported with its own code', t => {
  const names = CLASSES.map(([name]) => name)
  for (const name of ['MalformedFrameError', 'MeshError', 'LabError', 'LabUnsupportedError', 'UnauthorizedError', 'PayloadTooLargeError', 'BadResponseError', 'AppConfigError', 'ProxyError', 'CertError', 'NoCaError']) {
    t.true(names.includes(name), name)
  }
  const codes = new Set<string>()
  for (const [name, cls] of CLASSES) {
    t.is(cls.name, name)
    t.regex(cls.code, /^ERR_[A-Z_]+$/, name)
    t.false(codes.has(cls.code), `${cls.code} used twice`)
    codes.add(cls.code)
    const err = sample(name, cls)
    t.is(err.code, cls.code)
    t.is(err.name, name)
  }
})

test('every exported error crosses an actor-message reply (sys.error envelope) as its own class', async t => {
  const net = createMemoryNetwork()
  const [a, b] = [randomHostId(), randomHostId()] as [string, string]
  const byName = new Map(CLASSES)
  const remoting = async (hostId: string) => {
    const transport = net.transport({ hostId })
    await transport.start()
    const r = createRemoting({ hostId }, {
      codec: createCodec(),
      transport,
      logger: silentLogger(),
      clock: systemClock,
      onBadFrame: () => { t.fail('bad frame') },
      deliver: (_path, type, _body, reply) => {
        const cls = byName.get(type)
        reply?.(cls === undefined ? new Error(`no class ${type}`) : sample(type, cls))
      }
    })
    await r.start()
    t.teardown(async () => { await r.stop(); await transport.stop() })
    return r
  }
  const asker = await remoting(a)
  await remoting(b)
  for (const [name, cls] of CLASSES) {
    const got = await asker.ask(b, '/thrower', { type: name }, { timeoutMs: 10_000, from: '' }).then(() => undefined, (err: unknown) => err)
    sameError(t, got, name, cls, 'sys.error')
  }
})

test('every exported error crosses the control socket (comlink) as its own class', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'roost-errors-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const byName = new Map(CLASSES)
  const api = {
    async send (target: string) {
      const cls = byName.get(target)
      throw cls === undefined ? new Error(`no class ${target}`) : sample(target, cls)
    }
  } as unknown as ControlApi
  const server = createControlServer({ socketPath: join(dir, 'control.sock') }, { logger: silentLogger(), codec: createCodec(), api })
  await server.start()
  t.teardown(async () => { await server.stop() })
  const client = await connectControl(join(dir, 'control.sock'))
  t.teardown(() => { client.close() })
  for (const [name, cls] of CLASSES) {
    const got = await client.call(async remote => await remote.send(name, {})).then(() => undefined, (err: unknown) => err)
    sameError(t, got, name, cls, 'control socket')
  }
})

test('every exported error crosses the Machines HTTP API as its own class', async t => {
  // Machine ids are 14 hex digits: the class's index in CLASSES, padded.
  const idOf = (i: number): string => i.toString(16).padStart(14, '0')
  const backend = {
    async get (_app: string, id: string) {
      const entry = CLASSES[parseInt(id, 16)]
      throw entry === undefined ? new Error(`no class for ${id}`) : sample(...entry)
    }
  } as unknown as MachinesBackend
  const token = 'round-trip-token-0123456789'
  const server = createMachinesApiServer({ host: '127.0.0.1', port: 0, token }, { backend, logger: silentLogger() })
  await server.start()
  t.teardown(async () => { await server.stop() })
  const { host, port } = server.address()
  const client = createMachinesClient({ url: `http://${host}:${port}`, token })
  for (const [i, [name, cls]] of CLASSES.entries()) {
    const got = await client.get('app', idOf(i)).then(() => undefined, (err: unknown) => err)
    sameError(t, got, name, cls, 'HTTP')
  }
})

test('every module that defines error classes is enumerated here', async t => {
  const { readdir, readFile } = await import('node:fs/promises')
  const covered = ['src/errors/errors.ts', 'src/api/machines/errors.ts', 'src/app-config/errors.ts', 'src/proxy/errors.ts', 'src/proxy/tls/errors.ts', 'src/placement/errors.ts', 'src/events/errors.ts', 'src/acme/errors.ts']
  const root = new URL('../../', import.meta.url).pathname
  const found: string[] = []
  for (const dir of ['src', 'actors']) {
    for (const f of await readdir(join(root, dir), { recursive: true })) {
      if (!f.endsWith('.ts')) continue
      if (/= defineError\(/.test(await readFile(join(root, dir, f), 'utf8'))) found.push(`${dir}/${f}`)
    }
  }
  t.deepEqual(found.sort(), covered.sort())
})
