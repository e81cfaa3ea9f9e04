import test from 'ava'
import { parse } from 'smol-toml'
import { formatKeyPath, keyPathFromPointer } from '../../src/app-config/key-path.js'
import { lineOf, locateKeys } from '../../src/app-config/toml-locator.js'

const DOC = `# a comment with [brackets] and key = "value"
app = "x" # trailing comment
"quoted.key" = 'literal # not a comment'
description = """
[not-a-table]
still = "the string"
"""
raw = '''
[[nor-this]]
'''

[env]
  A = "1"
  B.C = "dotted"

[[services]]
  internal_port = 8080
  ports = [
    { port = 80, handlers = ["http"] },
    # a comment inside an array
    { port = 443,
      handlers = ["tls", "http"] },
  ]

  [services.concurrency]
    soft_limit = 10

[[services]]
  internal_port = 9000
  [[services.ports]]
    port = 9000
  [[services.ports]]
    port = 9001
    [services.ports.proxy_proto_options]
      version = "v2"

[checks.alive]
  type = "tcp"
[checks."Odd Name"]
  type = "http"
nested = { a = { b = [1,
  2] } }
`

test('every key of a tricky document is found on its line', t => {
  t.notThrows(() => parse(DOC), 'the fixture is valid TOML')
  const lines = locateKeys(DOC)
  const expect: Array<[Array<string | number>, number]> = [
    [['app'], 2],
    [['quoted.key'], 3],
    [['description'], 4],
    [['raw'], 8],
    [['env'], 12],
    [['env', 'A'], 13],
    [['env', 'B'], 14],
    [['env', 'B', 'C'], 14],
    [['services'], 16],
    [['services', 0], 16],
    [['services', 0, 'internal_port'], 17],
    [['services', 0, 'ports'], 18],
    [['services', 0, 'ports', 0], 19],
    [['services', 0, 'ports', 0, 'handlers'], 19],
    [['services', 0, 'ports', 0, 'handlers', 0], 19],
    [['services', 0, 'ports', 1], 21],
    [['services', 0, 'ports', 1, 'port'], 21],
    [['services', 0, 'ports', 1, 'handlers'], 22],
    [['services', 0, 'ports', 1, 'handlers', 1], 22],
    [['services', 0, 'concurrency'], 25],
    [['services', 0, 'concurrency', 'soft_limit'], 26],
    [['services', 1], 28],
    [['services', 1, 'internal_port'], 29],
    [['services', 1, 'ports', 0], 30],
    [['services', 1, 'ports', 0, 'port'], 31],
    [['services', 1, 'ports', 1], 32],
    [['services', 1, 'ports', 1, 'port'], 33],
    [['services', 1, 'ports', 1, 'proxy_proto_options'], 34],
    [['services', 1, 'ports', 1, 'proxy_proto_options', 'version'], 35],
    [['checks', 'alive'], 37],
    [['checks', 'alive', 'type'], 38],
    [['checks', 'Odd Name'], 39],
    [['checks', 'Odd Name', 'type'], 40],
    [['checks', 'Odd Name', 'nested', 'a', 'b'], 41],
    [['checks', 'Odd Name', 'nested', 'a', 'b', 1], 42]
  ]
  for (const [path, line] of expect) t.is(lines.get(formatKeyPath(path)), line, formatKeyPath(path))
  t.false([...lines.keys()].some(k => k.includes('not-a-table') || k.includes('nor-this') || k === 'still'), 'nothing inside strings')
})

test('a key that is not written down is placed at its nearest written parent', t => {
  const lines = locateKeys(DOC)
  t.is(lineOf(lines, ['services', 1, 'ports', 0, 'handlers']), 30)
  t.is(lineOf(lines, ['checks', 'alive', 'port']), 37)
  t.is(lineOf(lines, ['primary_region']), undefined)
})

test('key paths read like TOML, and JSON pointers map onto them through the document', t => {
  t.is(formatKeyPath(['services', 0, 'ports', 1, 'handlers']), 'services[0].ports[1].handlers')
  t.is(formatKeyPath(['checks', 'Odd Name', 'type']), 'checks["Odd Name"].type')
  t.is(formatKeyPath(['env', 'a.b']), 'env["a.b"]')
  const doc = { services: [{ ports: [{}, { handlers: ['x'] }] }], checks: { 0: { type: 'x' } }, 'a/b': { '~': 1 } }
  t.deepEqual(keyPathFromPointer('/services/0/ports/1/handlers/0', doc), ['services', 0, 'ports', 1, 'handlers', 0])
  t.deepEqual(keyPathFromPointer('/checks/0/type', doc), ['checks', '0', 'type'], 'a numeric table key stays a key')
  t.deepEqual(keyPathFromPointer('/a~1b/~0', doc), ['a/b', '~'])
  t.deepEqual(keyPathFromPointer('', doc), [])
})
