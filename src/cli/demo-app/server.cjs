// The demo app of `roost dev`: a small Node.js HTTP server (node:http, no dependencies).
//   GET /        "hello from roost machine <id>"
//   GET /count   a counter kept in this machine's memory
//   GET /info    JSON: machine id, hostname, node version, uptime
// Started by ./run as the guest app (roost puts node in the image: see src/vmm/image/node-runtime.ts)
// or on the host under the process driver.
const { createServer } = require('node:http')
const { hostname } = require('node:os')

const id = process.env.ROOST_MACHINE_ID ?? 'local'
const port = Number(process.env.PORT ?? 8080)
let count = 0

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]
  const text = (status, body, type = 'text/plain') => {
    res.writeHead(status, { 'content-type': type, 'x-roost-machine': id })
    res.end(body)
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed\n')
  if (path === '/') return text(200, `hello from roost machine ${id}\n`)
  if (path === '/count' || path === '/cgi-bin/count') return text(200, `${++count}\n`)
  if (path === '/info') return text(200, JSON.stringify({ machine: id, hostname: hostname(), node: process.version, uptimeS: Math.round(process.uptime()) }) + '\n', 'application/json')
  return text(404, 'not found\n')
})

server.listen(port, () => { console.log(`demo: hello from roost machine ${id}, node ${process.version}, listening on port ${port}`) })
const stop = () => { server.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref() }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
