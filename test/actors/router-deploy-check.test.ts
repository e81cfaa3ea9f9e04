import test from 'ava'
import { checkDeploy } from '../../actors/router/deploy-check.js'
import { InvalidArgumentError } from '../../src/errors/errors.js'
import type { ServiceRowData } from '../../src/gossip/rows.js'
import type { RowInput } from '../../src/proxy/route-compile.js'
import { serviceRow } from '../helpers/service-row.js'

const OWNER = 'b'.repeat(64)

function spec (app: string, port: number, handlers: Array<'tls' | 'http' | 'proxy_proto'>, updatedAt = 0, createdAt?: number): ServiceRowData {
  return { ...serviceRow(app, port, handlers), updatedAt, ...(createdAt === undefined ? {} : { createdAt }) } as unknown as ServiceRowData
}

function row (key: string, data: ServiceRowData): RowInput {
  return { key, owner: OWNER, data: data as unknown as Record<string, unknown>, deleted: false, ownerDead: false }
}

test('a port shared the way the routers allow is accepted; a conflicting one is refused naming the holder', t => {
  const web = row('web', spec('web', 8080, ['http'], 100))
  t.notThrows(() => { checkDeploy(spec('other', 8080, ['http'], 200), [web], 'roost.test') })
  const err = t.throws(() => { checkDeploy(spec('squat', 8080, [], 200), [web], 'roost.test') }, { instanceOf: InvalidArgumentError })
  t.regex(err?.message ?? '', /app squat cannot be deployed: port 8080 is taken by app 'web'/)
})

test('a row the routers reject claims nothing: a later conflicting row does not block a legitimate share, whatever the names', t => {
  // `limited` holds 8082 (http) since t=100; `a-squatter` asked for it as plain TCP at t=200 and every router rejects it.
  const limited = row('limited', spec('limited', 8082, ['http'], 100))
  const squatter = row('a-squatter', spec('a-squatter', 8082, [], 200))
  t.notThrows(() => { checkDeploy(spec('shares', 8082, ['http'], 300, 300), [squatter, limited], 'roost.test') })
  t.notThrows(() => { checkDeploy(spec('limited', 8082, ['http'], 300, 100), [squatter, limited], 'roost.test') }, 'the holder may redeploy: it keeps its first deploy time')
})

test('rows are judged under their own keys: a row claiming another app\'s name stands in for nothing', t => {
  const limited = row('limited', spec('limited', 8082, ['http'], 100))
  const impostor = row('broken', spec('limited', 9000, [], 200))
  t.notThrows(() => { checkDeploy(spec('shares', 8082, ['http'], 300), [limited, impostor], 'roost.test') })
  t.throws(() => { checkDeploy(spec('squat', 8082, [], 300), [limited, impostor], 'roost.test') }, { message: /port 8082 is taken by app 'limited'/ })
})
