import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openIdentityChannel } from '../../src/vmm/clone-channel.js'
import { identityLine, parseIdentityLine } from '../../src/vmm/clone-guest.js'

/** A fake guest behind a unix socket (QEMU's identity chardev): says ready, then acks the first whole identity line. */
async function fakeGuest (t: import('ava').ExecutionContext, opts: { dropFirstBytes?: number, ack?: boolean }): Promise<{ path: string, received: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'roost-idchan-'))
  const path = join(dir, 'id.sock')
  const received: string[] = []
  const socks: Socket[] = []
  const srv = createServer(sock => {
    socks.push(sock)
    sock.write('roost-clone-ready\n')
    let buf = ''
    let dropped = 0
    sock.on('data', (chunk: Buffer) => {
      let text = chunk.toString()
      if (dropped < (opts.dropFirstBytes ?? 0)) {
        const n = Math.min(text.length, (opts.dropFirstBytes ?? 0) - dropped)
        dropped += n
        text = text.slice(n)
      }
      buf += text
      // A message is one base64 line, or a raw header … its end line (as the guest script reads them).
      for (;;) {
        const start = buf.search(/roost-identity(-raw)?:/)
        if (start < 0) break
        const raw = /^roost-identity-raw:([0-9a-f]+):/.exec(buf.slice(start))
        const endMarker = raw === null ? '\n' : `roost-identity-end:${raw[1] ?? ''}\n`
        const end = buf.indexOf(endMarker, start + 1)
        if (end < 0) break
        const message = buf.slice(start, end + endMarker.length)
        buf = buf.slice(end + endMarker.length)
        const env = parseIdentityLine(message)
        if (env === null) { sock.write('roost-identity-bad\n'); continue }
        received.push(env)
        if (opts.ack !== false) sock.write('roost-identity-ok\n')
      }
    })
  })
  await new Promise<void>(resolve => srv.listen(path, resolve))
  t.teardown(async () => {
    for (const s of socks) s.destroy()
    await new Promise(resolve => srv.close(resolve))
    await rm(dir, { recursive: true, force: true })
  })
  return { path, received }
}

test('waits for the guest to be ready, sends the identity, resolves on the ack', async t => {
  const g = await fakeGuest(t, {})
  const ch = await openIdentityChannel(g.path)
  await ch.waitReady(5_000)
  await ch.sendIdentity(identityLine({ ROOST_MACHINE_ID: 'm1' }), 5_000)
  ch.close()
  t.is(g.received.length, 1)
  t.true(g.received[0]?.includes("ROOST_MACHINE_ID='m1'"))
})

test('a copy garbled on the way in is sent again until the guest has it whole', async t => {
  const g = await fakeGuest(t, { dropFirstBytes: 20 })
  const ch = await openIdentityChannel(g.path)
  await ch.sendIdentity(identityLine({ ROOST_MACHINE_ID: 'm2' }), 10_000)
  ch.close()
  t.is(g.received.length, 1)
  t.true(g.received[0]?.includes("ROOST_MACHINE_ID='m2'"))
})

test('no ack in time is an ERR_VMM error', async t => {
  const g = await fakeGuest(t, { ack: false })
  const ch = await openIdentityChannel(g.path)
  const err = await t.throwsAsync(ch.sendIdentity(identityLine({ A: '1' }), 300))
  ch.close()
  t.is((err as { code?: string }).code, 'ERR_VMM')
  t.regex(err?.message ?? '', /identity acknowledgement/)
})

test('a socket that never appears fails with ERR_VMM once the VM is gone', async t => {
  const ac = new AbortController()
  ac.abort()
  const err = await t.throwsAsync(openIdentityChannel(join(tmpdir(), `roost-no-such-${process.pid}.sock`), ac.signal))
  t.is((err as { code?: string }).code, 'ERR_VMM')
})
