import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

// The proxy bench's backend: an app whose `run` execs nginx (Debian's nginx-light), deployed with
// `roost deploy` and run by the process driver on the host. roost's router and HAProxy both
// forward to this one nginx (the machine's endpoint), so the backend is the same process.
//   /          a 13-byte "Hello, world\n" (the calibration's body), plus a header echoing the
//              X-Forwarded-For and -Proto it received (both proxies are checked to add them)
//   /big.bin   BULK_BYTES of zeros, served with sendfile (the tcp case)

export const HELLO_BODY = 'Hello, world\n'
export const BULK_PATH = '/big.bin'

const RUN = `#!/bin/sh
# The proxy bench's backend: nginx on $PORT, single process, no access log.
set -e
here=$(cd "$(dirname "$0")" && pwd)
state="\${STATE_ROOT:-\${TMPDIR:-/tmp}}/roost-bench-nginx-\${ROOST_MACHINE_ID:-local}"
rm -rf "$state"
mkdir -p "$state/tmp"
head -c "\${BULK_BYTES:-4194304}" /dev/zero >"$state/big.bin"
for a in \${LISTEN:-127.0.0.1}; do echo "listen $a:\${PORT:-8080} backlog=4096;"; done >"$state/listen.conf"
sed -e "s|@STATE@|$state|g" "$here/nginx.conf.in" >"$state/nginx.conf"
exec nginx -p "$state" -c "$state/nginx.conf" -e "$state/error.log"
`

const NGINX_CONF = `daemon off;
master_process off;
worker_processes 1;
pid @STATE@/nginx.pid;
error_log @STATE@/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path @STATE@/tmp;
  proxy_temp_path @STATE@/tmp;
  fastcgi_temp_path @STATE@/tmp;
  uwsgi_temp_path @STATE@/tmp;
  scgi_temp_path @STATE@/tmp;
  server {
    include @STATE@/listen.conf;
    root @STATE@;
    location = / {
      default_type text/plain;
      add_header x-backend-saw "$http_x_forwarded_for $http_x_forwarded_proto";
      return 200 "${HELLO_BODY.replace('\n', '\\n')}";
    }
    location = ${BULK_PATH} { default_type application/octet-stream; }
  }
}
`

/** One public port of the bench app (roost.toml `[[services.ports]]`). */
export interface BenchPort {
  port: number
  handlers: Array<'tls' | 'http'>
}

export interface NginxAppInit {
  dir: string
  app: string
  ports: BenchPort[]
  /** nginx's listen addresses on the machine's host (`127.0.0.1`; `[::]` as well to be reachable on the mesh address). */
  listen: string[]
  bulkBytes: number
  /** Where each machine's nginx keeps its config, files and error log (under the bench's temp dir). */
  stateRoot: string
}

/**
 * Writes the app directory (run, nginx.conf.in, roost.toml). Concurrency limits are far above any
 * case's connection count (HAProxy's server line has none either); autostop is off.
 */
export async function writeNginxApp (init: NginxAppInit): Promise<string> {
  await mkdir(init.dir, { recursive: true })
  await writeFile(join(init.dir, 'run'), RUN)
  await chmod(join(init.dir, 'run'), 0o755)
  await writeFile(join(init.dir, 'nginx.conf.in'), NGINX_CONF)
  const ports = init.ports.map(p => `[[services.ports]]\nport = ${p.port}\nhandlers = [${p.handlers.map(h => `"${h}"`).join(', ')}]\n`).join('\n')
  await writeFile(join(init.dir, 'roost.toml'), `app = "${init.app}"
primary_region = "local"

[env]
LISTEN = "${init.listen.join(' ')}"
BULK_BYTES = "${init.bulkBytes}"
STATE_ROOT = "${init.stateRoot}"

[[services]]
protocol = "tcp"
internal_port = 8080
auto_stop_machines = "off"
auto_start_machines = false
min_machines_running = 1

${ports}
[services.concurrency]
type = "connections"
soft_limit = 10000
hard_limit = 10000

[restart]
policy = "no"
`)
  return init.dir
}
