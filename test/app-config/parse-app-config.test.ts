import test from 'ava'
import { AppConfigError } from '../../src/app-config/errors.js'
import { parseAppConfig } from '../../src/app-config/parse-app-config.js'
import { toMachineConfig } from '../../src/app-config/to-machine-config.js'
import { errorFromWire } from '../../src/errors/roost-error.js'

const FILE = '/srv/app/roost.toml'

/** Parses and expects an AppConfigError; returns it. */
function fails (t: import('ava').ExecutionContext, source: string): AppConfigError {
  const err = t.throws(() => parseAppConfig(source, FILE), { instanceOf: AppConfigError })
  if (err === undefined) throw new Error('no error')
  t.is(err.code, 'ERR_APP_CONFIG')
  t.is(err.details?.file, FILE)
  return err
}

/** The first line of an error's message: `file:line: path: reason`. */
const head = (err: Error): string => err.message.split('\n')[0] ?? ''

test('a minimal roost.toml gets every default', t => {
  t.deepEqual(parseAppConfig('app = "hello"\n', FILE), {
    app: 'hello', primaryRegion: null, env: {}, vm: {}, build: {}, hostnames: [], services: [], checks: {}
  })
})

test('what `fly launch` writes (single quotes, [http_service], [[vm]], an empty [build]) reads as Fly means it', t => {
  const spec = parseAppConfig(`# fly.toml app configuration file generated for hello-fly on 2024-05-01T10:00:00+02:00
#
# See https://fly.io/docs/reference/configuration/ for information about how to use this file.
#

app = 'hello-fly'
primary_region = 'ams'

[build]

[env]
  PORT = '8080'

[http_service]
  internal_port = 8080
  force_https = true
  auto_stop_machines = 'stop'
  auto_start_machines = true
  min_machines_running = 0

[[vm]]
  memory = '1gb'
  cpus = 1
`, FILE)
  t.is(spec.app, 'hello-fly')
  t.is(spec.primaryRegion, 'ams')
  t.deepEqual(spec.env, { PORT: '8080' })
  t.deepEqual(spec.vm, { cpus: 1, memoryMb: 1024 })
  t.deepEqual(spec.build, {})
  t.deepEqual(spec.services, [{
    protocol: 'tcp',
    internalPort: 8080,
    ports: [
      { port: 80, handlers: ['http'], forceHttps: true, proxyProtoVersion: 1 },
      { port: 443, handlers: ['tls', 'http'], forceHttps: false, proxyProtoVersion: 1 }
    ],
    concurrency: { type: 'connections', softLimit: 20, hardLimit: 25 },
    autoStopMachines: 'stop',
    autoStartMachines: true,
    minMachinesRunning: 0
  }])
})

test('the older [[services]] style with ports, concurrency and tcp checks', t => {
  const spec = parseAppConfig(`app = "old-style"

[[services]]
  internal_port = 8080
  protocol = "tcp"
  auto_stop_machines = false

  [services.concurrency]
    hard_limit = 25
    soft_limit = 20
    type = "connections"

  [[services.ports]]
    force_https = true
    handlers = ["http"]
    port = 80

  [[services.ports]]
    handlers = ["tls", "http"]
    port = 443

  [[services.tcp_checks]]
    grace_period = "1s"
    interval = "15s"
    restart_limit = 0
    timeout = "2s"

  [[services.http_checks]]
    interval = 10000
    method = "get"
    path = "/healthz"
    protocol = "http"
`, FILE)
  const [svc] = spec.services
  t.is(svc?.internalPort, 8080)
  t.is(svc?.autoStopMachines, 'off', 'false means off')
  t.deepEqual(svc?.ports.map(p => [p.port, p.handlers, p.forceHttps]), [[80, ['http'], true], [443, ['tls', 'http'], false]])
  t.deepEqual(spec.checks, {
    'svc0-tcp0': { type: 'tcp', port: 8080, interval: '15s', timeout: '2s', grace_period: '1s', restart_limit: 0 },
    'svc0-http0': { type: 'http', port: 8080, interval: 10000, path: '/healthz', method: 'GET' }
  })
})

test('TCP services with PROXY protocol and TLS options, inline tables and dotted keys', t => {
  const spec = parseAppConfig(`app = "db"
vm.cpus = 2
vm.memory_mb = 512
hostnames = ["db.example.com", "*.db.example.com"]

services = [
  { internal_port = 5432, ports = [{ port = 5432, handlers = ["proxy_proto"], proxy_proto_options = { version = "v2" } }] },
  { internal_port = 8443, auto_stop_machines = true, ports = [
      { port = 8443, handlers = ["tls", "proxy_proto"], tls_options = { alpn = ["h2", "http/1.1"] } },
  ] },
]
`, FILE)
  t.deepEqual(spec.vm, { cpus: 2, memoryMb: 512 })
  t.deepEqual(spec.hostnames, ['db.example.com', '*.db.example.com'])
  t.deepEqual(spec.services[0]?.ports, [{ port: 5432, handlers: ['proxy_proto'], forceHttps: false, proxyProtoVersion: 2 }])
  t.deepEqual(spec.services[1]?.ports, [{ port: 8443, handlers: ['tls', 'proxy_proto'], forceHttps: false, proxyProtoVersion: 1, alpn: ['h2', 'http/1.1'] }])
  t.is(spec.services[1]?.autoStopMachines, 'stop', 'true means stop')
})

test('[http_service] goes first, with its concurrency, checks and ALPN; [[services]] follow', t => {
  const spec = parseAppConfig(`app = "web"
[[services]]
  internal_port = 9000
  [[services.ports]]
    port = 9000

[http_service]
  internal_port = 3000
  auto_stop_machines = "suspend"
  auto_start_machines = false
  min_machines_running = 2
  tls_options = { alpn = ["http/1.1"] }
  concurrency = { type = "requests", hard_limit = 10 }
  [[http_service.checks]]
    path = "/up"
    grace_period = "5s"
`, FILE)
  t.deepEqual(spec.services.map(s => s.internalPort), [3000, 9000])
  const [web, tcp] = spec.services
  t.deepEqual(web?.concurrency, { type: 'requests', softLimit: 10, hardLimit: 10 }, 'the soft default yields to a lower hard limit')
  t.is(web?.autoStopMachines, 'suspend')
  t.false(web?.autoStartMachines)
  t.is(web?.minMachinesRunning, 2)
  t.deepEqual(web?.ports[1]?.alpn, ['http/1.1'])
  t.false(web?.ports[0]?.forceHttps)
  t.deepEqual(tcp?.ports, [{ port: 9000, handlers: [], forceHttps: false, proxyProtoVersion: 1 }])
  t.deepEqual(spec.checks, { 'svc0-http0': { type: 'http', port: 3000, grace_period: '5s', path: '/up' } })
})

test('top-level [checks], [restart], [build] runtime, memory spellings', t => {
  const spec = parseAppConfig(`app = "x"
[build]
  runtime = "node"
[checks.alive]
  type = "tcp"
  port = 8080
  interval = "5s"
[checks.page]
  type = "http"
  port = 8080
  path = "/"
  method = "head"
  timeout = 500
[[restart]]
  policy = "never"
`, FILE)
  t.deepEqual(spec.build, { runtime: 'node' })
  t.deepEqual(spec.checks, {
    alive: { type: 'tcp', port: 8080, interval: '5s' },
    page: { type: 'http', port: 8080, path: '/', method: 'HEAD', timeout: 500 }
  })
  t.deepEqual(spec.restart, { policy: 'no' })
  t.deepEqual(parseAppConfig('app = "x"\n[restart]\npolicy = "on-failure"\nretries = 3\n', FILE).restart, { policy: 'on-failure', max_retries: 3 })
  for (const [memory, mb] of [['"256mb"', 256], ['"2GB"', 2048], ['"512MiB"', 512], ['"1g"', 1024], ['"300"', 300], ['768', 768]] as const) {
    t.is(parseAppConfig(`app = "x"\n[vm]\nmemory = ${memory}\n`, FILE).vm.memoryMb, mb, memory)
  }
  t.deepEqual(parseAppConfig('app = "x"\n[[services]]\ninternal_port = 80\nconcurrency = { soft_limit = 50 }\n', FILE).services[0]?.concurrency,
    { type: 'connections', softLimit: 50, hardLimit: 50 }, 'the hard default yields to a higher soft limit')
})

test('a TOML syntax error names the file, line and column', t => {
  const err = fails(t, 'app = "x"\n\n[http_service\ninternal_port = 8080\n')
  t.regex(head(err), /^\/srv\/app\/roost\.toml:3:\d+: TOML syntax: /)
  t.is(err.details?.line, 3)
  const unterminated = fails(t, 'app = "x"\nprimary_region = "ams\n')
  t.regex(head(unterminated), /^\/srv\/app\/roost\.toml:2:\d+: TOML syntax/)
  const duplicate = fails(t, 'app = "x"\napp = "y"\n')
  t.regex(head(duplicate), /^\/srv\/app\/roost\.toml:2:\d+: TOML syntax/)
})

test('unknown keys are errors, with the key path, the line and what is allowed there', t => {
  const top = fails(t, 'app = "x"\n\nkill_signal = "SIGINT"\n')
  t.is(head(top), `${FILE}:3: kill_signal: unknown key "kill_signal" (allowed here: app, primary_region, failover, env, build, vm, services, http_service, checks, hostnames, restart)`)
  const nested = fails(t, `app = 'hello-fly'

[http_service]
  internal_port = 8080
  force_https = true
  processes = ['app']
`)
  t.regex(head(nested), new RegExp(`^${FILE}:6: http_service\\.processes: unknown key "processes" \\(allowed here: internal_port, force_https, `))
  t.deepEqual([nested.details?.line, nested.details?.path], [6, 'http_service.processes'])
  const deep = fails(t, `app = "x"
[[services]]
  internal_port = 8080
  [[services.ports]]
    port = 80
  [[services.ports]]
    port = 443
    [services.ports.tls_options]
      alpn = ["h2"]
      versions = ["TLSv1.3"]
`)
  t.is(head(deep), `${FILE}:10: services[0].ports[1].tls_options.versions: unknown key "versions" (allowed here: alpn)`)
  const vm = fails(t, 'app = "x"\n[[vm]]\n  cpu_kind = "shared"\n  cpus = 1\n')
  t.is(head(vm), `${FILE}:3: vm[0].cpu_kind: unknown key "cpu_kind" (allowed here: cpus, memory, memory_mb)`)
})

test('values of the wrong type or out of range name the key and line', t => {
  t.is(head(fails(t, 'app = "x"\n[http_service]\ninternal_port = "8080"\n')), `${FILE}:3: http_service.internal_port: must be an integer from 1 to 65535, not "8080"`)
  t.is(head(fails(t, 'app = "x"\n[[services]]\ninternal_port = 70000\n')), `${FILE}:3: services[0].internal_port: must be an integer from 1 to 65535, not 70000`)
  t.is(head(fails(t, 'app = "x"\n[[services]]\ninternal_port = 80\nprotocol = "udp"\n')), `${FILE}:4: services[0].protocol: must be "tcp", not "udp"`)
  t.is(head(fails(t, `app = "x"
[[services]]
internal_port = 80
[[services.ports]]
port = 80
[[services.ports]]
port = 443
handlers = ["tls",
  "https"]
`)), `${FILE}:9: services[0].ports[1].handlers[1]: must be "http" or "tls" or "proxy_proto", not "https"`)
  t.is(head(fails(t, 'app = "x"\n[env]\nPORT = 8080\n')), `${FILE}:3: env.PORT: must be a string of at most 4096 characters without a NUL byte, not 8080`)
  t.is(head(fails(t, 'app = "x"\n[env]\nGREETING = "hi\\u0000there"\n')), `${FILE}:3: env.GREETING: must be a string of at most 4096 characters without a NUL byte, not "hi\\u0000there"`)
  t.is(head(fails(t, 'app = "x"\n[env]\n"not-a-name" = "1"\n')), `${FILE}:3: env.not-a-name: "not-a-name" is not a valid name here (names match ^[A-Za-z_][A-Za-z0-9_]*$)`)
  t.is(head(fails(t, 'app = "My_App"\n')), `${FILE}:1: app: must be a name of lower-case letters, digits and dashes (at most 63), like "my-app", not "My_App"`)
  t.is(head(fails(t, 'app = "x"\n[http_service]\ninternal_port = 80\nauto_stop_machines = "sometimes"\n')),
    `${FILE}:4: http_service.auto_stop_machines: must be "off", "stop", "suspend", or a boolean (true: "stop", false: "off"), not "sometimes"`)
  t.is(head(fails(t, 'app = "x"\n[vm]\nmemory = "lots"\n')), `${FILE}:3: vm.memory: must be a size like "256mb" or "1gb", or megabytes as an integer, not "lots"`)
  t.is(head(fails(t, 'app = "x"\n[vm]\ncpus = 64\n')), `${FILE}:3: vm.cpus: must be an integer from 1 to 16, not 64`)
  t.is(head(fails(t, 'app = "x"\n[checks.web]\ntype = "grpc"\n')), `${FILE}:3: checks.web.type: must be "tcp" or "http", not "grpc"`)
  t.is(head(fails(t, 'app = "x"\n[checks.web]\ntype = "tcp"\ninterval = "10 seconds"\n')), `${FILE}:4: checks.web.interval: must be an integer from 0 to 86400000 or a string matching ^[0-9]+(ms|s|m|h)$, not "10 seconds"`)
  t.is(head(fails(t, 'app = "x"\n[checks."Web Check"]\ntype = "tcp"\n')), `${FILE}:2: checks["Web Check"]: "Web Check" is not a valid name here (names match ^[a-z0-9_-]{1,32}$)`)
  t.is(head(fails(t, 'app = "x"\nhostnames = ["ok.example.com", "Not_A_Host"]\n')), `${FILE}:2: hostnames[1]: must be a lower-case DNS name like "app.example.com" or "*.example.com", not "Not_A_Host"`)
  t.is(head(fails(t, 'app = "x"\n[build]\nruntime = "python"\n')), `${FILE}:3: build.runtime: must be "node" (puts the host's node in the image), not "python"`)
  t.is(head(fails(t, 'app = "x"\n[restart]\npolicy = "sometimes"\n')), `${FILE}:3: restart.policy: must be "no" (or fly's "never"), "always" or "on-failure", not "sometimes"`)
  t.is(head(fails(t, 'app = "x"\nvm = "big"\n')), `${FILE}:2: vm: must be a [vm] table or one [[vm]], not "big"`)
  t.is(head(fails(t, 'app = "x"\n[http_service]\ninternal_port = 80\n[http_service.concurrency]\nsoft_limit = 0\n')), `${FILE}:5: http_service.concurrency.soft_limit: must be an integer from 1 to 1000000, not 0`)
  t.is(head(fails(t, 'app = "x"\n[[services]]\ninternal_port = 80\n[[services.ports]]\nport = 80\n[services.ports.proxy_proto_options]\nversion = "v3"\n')),
    `${FILE}:7: services[0].ports[0].proxy_proto_options.version: must be "v1" or "v2", not "v3"`)
})

test('missing required keys point at their table, or line 1 at the top', t => {
  t.is(head(fails(t, '# nothing but a comment\nprimary_region = "ams"\n')), `${FILE}:1: app: required key missing (a name of lower-case letters, digits and dashes (at most 63), like "my-app")`)
  t.is(head(fails(t, 'app = "x"\n\n[[services]]\n  protocol = "tcp"\n')), `${FILE}:3: services[0].internal_port: required key missing (an integer from 1 to 65535)`)
  t.is(head(fails(t, 'app = "x"\n[[services]]\ninternal_port = 1\n[[services.ports]]\nhandlers = ["http"]\n')), `${FILE}:4: services[0].ports[0].port: required key missing (an integer from 1 to 65535)`)
  t.is(head(fails(t, 'app = "x"\n[checks.alive]\nport = 80\n')), `${FILE}:2: checks.alive.type: required key missing ("tcp" or "http")`)
})

test('ports, handlers and limits that contradict each other are errors at the key that does', t => {
  const svc = (ports: string, extra = ''): string => `app = "x"\n[[services]]\ninternal_port = 8080\n${extra}${ports}`
  t.is(head(fails(t, svc('[[services.ports]]\nport = 80\n[[services.ports]]\nport = 80\n'))), `${FILE}:7: services[0].ports[1].port: port 80 is also services[0].ports[0].port's: a port belongs to one service of the app`)
  t.is(head(fails(t, `app = "x"
[http_service]
internal_port = 8080
[[services]]
internal_port = 9000
ports = [{ port = 443 }]
`)), `${FILE}:6: services[0].ports[0].port: port 443 is also http_service's: a port belongs to one service of the app`)
  t.is(head(fails(t, `app = "x"
[[services]]
internal_port = 8080
ports = [{ port = 80 }]
[[services]]
internal_port = 9090
ports = [{ port = 81 }, { port = 80 }]
`)), `${FILE}:7: services[1].ports[1].port: port 80 is also services[0].ports[0].port's: a port belongs to one service of the app`)
  t.is(head(fails(t, svc('[[services.ports]]\nport = 443\nhandlers = ["tls"]\nforce_https = true\n'))),
    `${FILE}:7: services[0].ports[0].force_https: force_https redirects plain HTTP to https: it needs the "http" handler and no "tls" on the same port`)
  t.is(head(fails(t, svc('[[services.ports]]\nport = 443\nhandlers = ["tls", "http"]\nforce_https = true\n'))),
    `${FILE}:7: services[0].ports[0].force_https: force_https redirects plain HTTP to https: it needs the "http" handler and no "tls" on the same port`)
  t.is(head(fails(t, svc('[[services.ports]]\nport = 5432\nhandlers = ["tls"]\nproxy_proto_options = { version = "v2" }\n'))),
    `${FILE}:7: services[0].ports[0].proxy_proto_options: proxy_proto_options without the "proxy_proto" handler`)
  t.is(head(fails(t, svc('[[services.ports]]\nport = 80\nhandlers = ["http"]\n[services.ports.tls_options]\nalpn = ["h2"]\n'))),
    `${FILE}:7: services[0].ports[0].tls_options: tls_options without the "tls" handler`)
  t.is(head(fails(t, svc('[[services.ports]]\nport = 80\nhandlers = ["http", "http"]\n'))), `${FILE}:6: services[0].ports[0].handlers: "http" is listed twice`)
  t.is(head(fails(t, svc('', '[services.concurrency]\ntype = "requests"\nsoft_limit = 30\nhard_limit = 10\n'))),
    `${FILE}:6: services[0].concurrency.soft_limit: soft_limit (30) is above hard_limit (10)`)
  t.is(head(fails(t, 'app = "x"\n[http_service]\ninternal_port = 80\nconcurrency = { soft_limit = 9, hard_limit = 8 }\n')),
    `${FILE}:4: http_service.concurrency.soft_limit: soft_limit (9) is above hard_limit (8)`)
})

test('vm, restart, checks and hostnames conflicts', t => {
  t.is(head(fails(t, 'app = "x"\n[[vm]]\ncpus = 1\n[[vm]]\ncpus = 2\n')), `${FILE}:2: vm: only one entry (roost has no process groups)`)
  t.is(head(fails(t, 'app = "x"\n[vm]\nmemory = "32mb"\n')), `${FILE}:3: vm.memory: 32 MB is outside 64–65536 MB`)
  t.is(head(fails(t, 'app = "x"\n[vm]\nmemory = "128gb"\n')), `${FILE}:3: vm.memory: 131072 MB is outside 64–65536 MB`)
  t.is(head(fails(t, 'app = "x"\n[vm]\nmemory = "1gb"\nmemory_mb = 1024\n')), `${FILE}:4: vm.memory_mb: give memory or memory_mb, not both`)
  t.is(head(fails(t, 'app = "x"\n[[restart]]\npolicy = "on-failure"\nmax_retries = 1\nretries = 2\n')), `${FILE}:5: restart[0].retries: give retries or max_retries, not both`)
  t.is(head(fails(t, 'app = "x"\n[checks.alive]\ntype = "tcp"\npath = "/"\n')), `${FILE}:4: checks.alive.path: path applies to http checks only`)
  t.is(head(fails(t, 'app = "x"\n[[services]]\ninternal_port = 80\n[[services.tcp_checks]]\ninterval = "1s"\n[checks.svc0-tcp0]\ntype = "tcp"\n')),
    `${FILE}:6: checks.svc0-tcp0: the name "svc0-tcp0" is taken by the check of services[0].tcp_checks[0]`)
  t.is(head(fails(t, 'app = "x"\nhostnames = [\n  "a.example.com",\n  "a.example.com",\n]\n')), `${FILE}:4: hostnames[1]: "a.example.com" is listed twice`)
})

test('several schema errors: the first in the file leads, the others follow, each with its line', t => {
  const err = fails(t, `app = "x"
[[services]]
internal_port = "80"
bogus = 1
[[services.ports]]
port = 0
[env]
A = 1
`)
  const lines = err.message.split('\n')
  t.is(lines[0], `${FILE}:3: services[0].internal_port: must be an integer from 1 to 65535, not "80"`)
  t.deepEqual(lines.slice(1).map(l => /:(\d+): /.exec(l)?.[1]), ['4', '6', '8'])
  t.is((err.details?.errors as unknown[]).length, 4)
})

test('the error crosses the wire as itself (the CLI prints its code)', t => {
  const err = fails(t, 'app = 1\n')
  const back = errorFromWire(err.toWire())
  t.true(back instanceof AppConfigError)
  t.is(back.message, err.message)
})

test('failover = "replace" | "none" reaches the machine config; other values are refused with their line', t => {
  const spec = parseAppConfig('app = "x"\nfailover = "replace"\n', FILE)
  t.is(toMachineConfig(spec, 'd'.repeat(64)).failover, 'replace')
  t.is(toMachineConfig(parseAppConfig('app = "x"\n', FILE), 'd'.repeat(64)).failover, undefined)
  const err = t.throws(() => parseAppConfig('app = "x"\nfailover = "sometimes"\n', FILE))
  t.regex(err?.message ?? '', /:2: failover/)
})
