import { execFile } from 'node:child_process'
import { type X509Certificate } from 'node:crypto'
import { connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls'
import type { CertRowData } from '../../../src/gossip/rows.js'
import type { IssuedLeaf } from '../../../src/proxy/tls/dev-ca.js'
import { sealKey } from '../../../src/proxy/tls/seal.js'

export function validityMs (cert: X509Certificate): number {
  return Date.parse(cert.validTo) - Date.parse(cert.validFrom)
}

/** A `certs` row for a leaf, its key sealed under `certKey`. */
export function certRow (hostname: string, leaf: IssuedLeaf, certKey: Buffer, extra: Partial<CertRowData> = {}): CertRowData {
  return { hostname, app: null, certPem: leaf.certPem, keySealed: sealKey(certKey, leaf.keyPem), notAfter: leaf.notAfter, source: 'user', updatedAt: Date.now(), ...extra }
}

export interface Handshake {
  /** The server's certificate; undefined on a resumed session (none is sent). */
  cert: X509Certificate | undefined
  peer: PeerCertificate
  alpn: string | false | null
  reused: boolean
  authorized: boolean
  session: Buffer | undefined
  ms: number
}

/** One TLS handshake to 127.0.0.1:port; resolves once the server's first session ticket arrived (TLS 1.3 sends it after). */
export async function handshake (port: number, opts: ConnectionOptions & { waitSession?: boolean } = {}): Promise<Handshake> {
  const started = performance.now()
  return await new Promise<Handshake>((resolve, reject) => {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, ...opts })
    let session: Buffer | undefined
    let done: Handshake | undefined
    const finish = (): void => {
      if (done === undefined || (opts.waitSession === true && session === undefined)) return
      socket.destroy()
      resolve({ ...done, session })
    }
    socket.setTimeout(10_000, () => { socket.destroy(new Error('handshake timed out')) })
    socket.once('session', (s: Buffer) => { session = s; finish() })
    socket.once('error', reject)
    socket.once('close', () => { reject(new Error('closed before the handshake finished')) })
    socket.once('secureConnect', () => {
      const ms = performance.now() - started
      done = { cert: socket.getPeerX509Certificate(), peer: socket.getPeerCertificate(), alpn: socket.alpnProtocol, reused: socket.isSessionReused(), authorized: socket.authorized, session, ms }
      finish()
    })
  })
}

/** `openssl s_client` against 127.0.0.1:port with SNI; its stdout (the certificate PEM, subject, verify result). */
export async function sClient (port: number, servername: string, caFile: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername, '-CAfile', caFile, '-verify_hostname', servername],
      { timeout: 15_000 }, (err, stdout, stderr) => {
        if (err !== null && stdout === '') reject(new Error(`${err.message}\n${stderr}`))
        else resolve(stdout + stderr)
      })
    child.stdin?.end()
  })
}
