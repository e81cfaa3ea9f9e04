import test from 'ava'
import { pino } from 'pino'
import { createMachinesClient } from '../../../src/api/machines/client.js'
import { createMachinesApiServer } from '../../../src/api/machines/http-server.js'
import {
  AgentUnavailableError, HostUnreachableError, IllegalTransitionError, ImageError, MachineNotFoundError, UnauthorizedError,
  UnknownHostError, WaitTimeoutError
} from '../../../src/errors/errors.js'
import { RoostError } from '../../../src/errors/roost-error.js'
import { silentLogger } from '../../../src/log/logger.js'
import { isAllowed } from '../../../actors/machines/lifecycle.js'
import { MACHINE_STATES } from '../../../src/api/machines/schemas.js'
import { retry } from '../../helpers/retry.js'
import { APP, createFakeBackend, EXPLODING, startApi, STARTED, STOPPED, SUSPENDED, TOKEN, UNREACHABLE } from './fake-backend.js'

test('every endpoint needs the bearer token, openapi and health included', async t => {
  const { url } = await startApi(t)
  for (const path of ['/v1/health', '/v1/openapi.json', `/v1/apps/${APP}/machines`, `/v1/apps/${APP}/machines/${STARTED}`, '/nope']) {
    for (const authorization of [undefined, 'Bearer wrong-token', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, 'Bearer']) {
      const res = await fetch(url + path, { headers: authorization === undefined ? {} : { authorization } })
      t.is(res.status, 401, `${path} with ${authorization ?? 'no header'}`)
      t.is(res.headers.get('www-authenticate'), 'Bearer')
      t.truthy(res.headers.get('x-request-id'))
      const body = await res.json() as { error: string, code: string }
      t.is(body.code, 'ERR_UNAUTHORIZED')
      t.true(body.error.length > 0)
    }
  }
  const ok = await fetch(`${url}/v1/health`, { headers: { authorization: `Bearer ${TOKEN}` } })
  t.is(ok.status, 200)
  t.deepEqual(await ok.json(), { ok: true })
  t.regex(ok.headers.get('content-type') ?? '', /^application\/json/)
  const wrong = createMachinesClient({ url, token: 'nope' })
  await t.throwsAsync(wrong.health(), { instanceOf: UnauthorizedError })
  await t.throwsAsync(wrong.openapi(), { instanceOf: UnauthorizedError })
})

test('a request id is echoed when sane, made up otherwise', async t => {
  const { url } = await startApi(t)
  const headers = { authorization: `Bearer ${TOKEN}` }
  const echoed = await fetch(`${url}/v1/health`, { headers: { ...headers, 'x-request-id': 'abc-123' } })
  t.is(echoed.headers.get('x-request-id'), 'abc-123')
  const made = await fetch(`${url}/v1/health`, { headers: { ...headers, 'x-request-id': 'bad id with spaces' } })
  t.regex(made.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
})

test('the client covers every route: list, create, get, update, actions, wait, metadata, logs, destroy', async t => {
  const { client, backend } = await startApi(t)
  t.deepEqual(await client.health(), { ok: true })
  const doc = await client.openapi()
  t.is(doc.openapi, '3.1.0')

  const listed = await client.list(APP)
  t.deepEqual(listed.map(m => m.id).sort(), [...backend.machines.keys()].sort())
  t.deepEqual(await client.list('other-app'), [])

  const created = await client.create(APP, { name: 'web-1', config: { image: 'hello', env: { A: '1' }, services: [{ internal_port: 8080 }] } })
  t.is(created.state, 'started')
  t.is(created.name, 'web-1')
  t.deepEqual(created.config.env, { A: '1' })
  const skipped = await client.create(APP, { config: { image: 'hello' }, skip_launch: true })
  t.is(skipped.state, 'created')

  t.is((await client.get(APP, created.id)).id, created.id)
  const updated = await client.update(APP, created.id, { config: { image: 'hello2' } })
  t.is(updated.version, 2)
  t.is(updated.config.image, 'hello2')

  t.is((await client.action(APP, created.id, 'stop', { signal: 'SIGTERM', timeout: '5s' })).state, 'stopped')
  t.is((await client.action(APP, created.id, 'start')).state, 'started')
  t.is((await client.action(APP, created.id, 'suspend')).state, 'suspended')
  t.is((await client.action(APP, created.id, 'start')).state, 'started', 'start resumes a suspended machine')
  const restarted = await client.action(APP, created.id, 'restart')
  t.is(restarted.restarts, 1)
  t.true((await client.action(APP, created.id, 'cordon')).cordoned)
  t.false((await client.action(APP, created.id, 'uncordon')).cordoned)

  t.is((await client.wait(APP, created.id, 'started', 1000)).id, created.id)
  setTimeout(() => { backend.setState(STOPPED, 'started') }, 50)
  t.is((await client.wait(APP, STOPPED, 'started', 5000)).state, 'started')

  t.deepEqual(await client.getMetadata(APP, STARTED), { role: 'web' })
  t.deepEqual(await client.setMetadata(APP, STARTED, 'tier.1', 'gold'), { role: 'web', 'tier.1': 'gold' })
  t.deepEqual(await client.getMetadata(APP, STARTED), { role: 'web', 'tier.1': 'gold' })
  t.deepEqual(await client.deleteMetadata(APP, STARTED, 'role'), { 'tier.1': 'gold' })

  const logs = await client.logs(APP, STARTED)
  t.true(logs.startsWith('line 0\n'))
  t.is(await client.logs(APP, STARTED, 8), 'line 49\n')

  await t.throwsAsync(client.destroy(APP, created.id, false), { instanceOf: IllegalTransitionError })
  t.is((await client.destroy(APP, created.id, true)).state, 'destroyed')
  t.false((await client.list(APP)).some(m => m.id === created.id))
  t.true((await client.list(APP, { includeDestroyed: true })).some(m => m.id === created.id))
})

test('the fake answers every action from every state as the real lifecycle table does, 409 otherwise', async t => {
  const { backend, url } = await startApi(t)
  const actions = ['start', 'stop', 'suspend', 'restart', 'cordon', 'uncordon'] as const
  let allowed = 0
  for (const state of MACHINE_STATES) {
    for (const action of actions) {
      backend.setState(STARTED, state)
      const res = await fetch(`${url}/v1/apps/${APP}/machines/${STARTED}/${action}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
      const want = isAllowed(state, action)
      t.is(res.status, want ? 200 : 409, `${action} from ${state}`)
      if (want) allowed++
    }
  }
  // Those the old hand-written table of the fake got wrong, among the rest.
  t.true(isAllowed('failed', 'start') && isAllowed('failed', 'restart') && isAllowed('starting', 'stop'))
  t.true(allowed > 0)
})

test('backend errors keep their class and code across HTTP, with the mapped status', async t => {
  const { client, url } = await startApi(t)
  const get = async (path: string): Promise<{ status: number, body: { error: string, code: string, details?: Record<string, unknown> } }> => {
    const res = await fetch(url + path, { headers: { authorization: `Bearer ${TOKEN}` } })
    return { status: res.status, body: await res.json() as never }
  }
  const notFound = await t.throwsAsync(client.get(APP, '0123456789abcd'), { instanceOf: MachineNotFoundError })
  t.is(notFound?.code, 'ERR_MACHINE_NOT_FOUND')
  t.deepEqual(notFound?.details, { app: APP, id: '0123456789abcd' })
  t.is((await get(`/v1/apps/${APP}/machines/0123456789abcd`)).status, 404)

  const illegal = await t.throwsAsync(client.action(APP, STOPPED, 'suspend'), { instanceOf: IllegalTransitionError })
  t.deepEqual(illegal?.details, { id: STOPPED, state: 'stopped', action: 'suspend' })
  await t.throwsAsync(client.action(APP, SUSPENDED, 'stop'), { instanceOf: IllegalTransitionError })
  const res409 = await fetch(`${url}/v1/apps/${APP}/machines/${STOPPED}/suspend`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })
  t.is(res409.status, 409)

  await t.throwsAsync(client.wait(APP, STOPPED, 'started', 1000), { instanceOf: WaitTimeoutError })
  t.is((await get(`/v1/apps/${APP}/machines/${STOPPED}/wait?state=suspended&timeout=1`)).status, 408)

  await t.throwsAsync(client.create(APP, { config: { image: 'missing' } }), { instanceOf: ImageError })
  await t.throwsAsync(client.create(APP, { config: { image: 'hello' }, host: 'nowhere' }), { instanceOf: UnknownHostError })
  await t.throwsAsync(client.get(APP, UNREACHABLE), { instanceOf: HostUnreachableError })
  t.is((await get(`/v1/apps/${APP}/machines/${UNREACHABLE}`)).status, 503)

  const boom = await get(`/v1/apps/${APP}/machines/${EXPLODING}`)
  t.is(boom.status, 500)
  t.is(boom.body.code, 'ERR_INTERNAL')
  t.false(boom.body.error.includes('kaboom'), 'internals stay in the log')
  const err = await t.throwsAsync(client.get(APP, EXPLODING), { instanceOf: RoostError })
  t.is(err?.code, 'ERR_INTERNAL')
})

test('start and stop are idempotent; stop closes keep-alive connections; a stopped API is unreachable', async t => {
  const backend = createFakeBackend()
  let backendWaits = 0
  const wait = backend.wait
  backend.wait = async (...args) => { backendWaits++; return await wait(...args) }
  const server = createMachinesApiServer({ host: '127.0.0.1', port: 0, token: TOKEN }, { backend, logger: silentLogger() })
  t.teardown(async () => { await server.stop(); backend.close() })
  await server.stop()
  t.throws(() => server.address())
  await server.start()
  await server.start()
  const { port } = server.address()
  t.true(port > 0)
  const client = createMachinesClient({ url: `http://127.0.0.1:${port}`, token: TOKEN })
  t.deepEqual(await client.health(), { ok: true })
  const waiting = client.wait(APP, STOPPED, 'started', 60_000)
  waiting.catch(() => {})
  await retry(() => backendWaits > 0, { what: 'the wait request reached the backend' })
  await server.stop()
  await server.stop()
  await t.throwsAsync(waiting, { instanceOf: AgentUnavailableError }, 'the in-flight wait was cut, not timed out')
  await t.throwsAsync(client.health(), { instanceOf: AgentUnavailableError })
  await server.start()
  t.deepEqual(await createMachinesClient({ url: `http://127.0.0.1:${server.address().port}`, token: TOKEN }).health(), { ok: true })
})

test('one debug line per request, a warn line per error, an error line with the request id for a 500', async t => {
  const lines: Array<{ level: number, msg: string, reqId?: string, status?: number, code?: string }> = []
  const logger = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as never) } })
  const server = createMachinesApiServer({ host: '127.0.0.1', port: 0, token: TOKEN }, { backend: createFakeBackend(), logger })
  t.teardown(async () => { await server.stop() })
  await server.start()
  const client = createMachinesClient({ url: `http://127.0.0.1:${server.address().port}`, token: TOKEN })
  await client.get(APP, STARTED)
  await t.throwsAsync(client.get(APP, '0123456789abcd'))
  await t.throwsAsync(client.get(APP, EXPLODING))
  const requests = lines.filter(l => l.msg === 'request')
  t.deepEqual(requests.map(l => [l.level, l.status]), [[20, 200], [20, 404], [20, 500]])
  const failures = lines.filter(l => l.msg === 'request failed')
  t.deepEqual(failures.map(l => [l.level, l.code]), [[40, 'ERR_MACHINE_NOT_FOUND'], [50, undefined]])
  t.is(failures[1]?.reqId, requests[2]?.reqId)
  t.true(typeof failures[1]?.reqId === 'string')
})

test('failed requests log at most 5 lines per client and code per 10 s; the next line says how many were left out', async t => {
  const lines: Array<{ msg: string, code?: string, suppressed?: number }> = []
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as never) } })
  let now = 1_000_000
  const server = createMachinesApiServer({ host: '127.0.0.1', port: 0, token: TOKEN }, { backend: createFakeBackend(), logger, clock: { now: () => now } })
  t.teardown(async () => { await server.stop() })
  await server.start()
  const client = createMachinesClient({ url: `http://127.0.0.1:${server.address().port}`, token: TOKEN })
  for (let i = 0; i < 40; i++) await t.throwsAsync(client.get(APP, '0123456789abcd'))
  const failed = (): typeof lines => lines.filter(l => l.msg === 'request failed')
  t.is(failed().length, 5, '40 failures, 5 lines')
  now += 10_001
  await t.throwsAsync(client.get(APP, '0123456789abcd'))
  t.is(failed().length, 6)
  t.is(failed()[5]?.suppressed, 35, 'the line after the window counts what was left out')
  await t.throwsAsync(client.get(APP, EXPLODING))
  t.is(failed().at(-1)?.code, undefined, 'another code has its own allowance (the 500 is logged at once)')
})
