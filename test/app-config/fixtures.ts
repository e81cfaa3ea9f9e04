/** roost.toml documents the app-config tests share: each uses a different part of the format. */
export const FULL_TOML = `app = "shop"
primary_region = "fra"
hostnames = ["shop.example.com", "*.shop.example.com"]

[env]
  LOG_LEVEL = "debug"
  DATABASE_URL = "postgres://db.internal/shop"

[vm]
  cpus = 2
  memory = "512mb"

[http_service]
  internal_port = 3000
  force_https = true
  auto_stop_machines = "suspend"
  min_machines_running = 1
  tls_options = { alpn = ["http/1.1"] }
  [http_service.concurrency]
    type = "requests"
    soft_limit = 40
    hard_limit = 50
  [[http_service.checks]]
    path = "/healthz"
    interval = "10s"

[[services]]
  internal_port = 5432
  auto_start_machines = false
  [[services.ports]]
    port = 5432
    handlers = ["proxy_proto"]
    proxy_proto_options = { version = "v2" }
  [[services.ports]]
    port = 6432
    handlers = ["tls", "proxy_proto"]
  [[services.tcp_checks]]
    interval = "5s"

[checks.disk]
  type = "http"
  port = 3000
  path = "/disk"

[restart]
  policy = "on-failure"
  max_retries = 5
`

export const EXAMPLES: Record<string, string> = {
  minimal: 'app = "min"\n',
  full: FULL_TOML,
  fly: `app = 'hello-fly'\nprimary_region = 'ams'\n[build]\n[http_service]\n  internal_port = 8080\n  force_https = true\n  auto_stop_machines = 'stop'\n[[vm]]\n  memory = '1gb'\n  cpus = 1\n`,
  tcp: 'app = "tcp"\n[[services]]\ninternal_port = 7000\nports = [{ port = 7000 }, { port = 7001, handlers = ["tls"], tls_options = { alpn = ["x-custom"] } }]\n'
}
