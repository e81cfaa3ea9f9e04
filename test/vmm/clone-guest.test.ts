import test from 'ava'
import { execFileSync } from 'node:child_process'
import { CLONE_SCRIPT, CLONE_SCRIPT_PATH, cloneGuestVersion, identityLine, parseIdentityLine } from '../../src/vmm/clone-guest.js'
import { guestMemoryArgs, identitySerialArgs } from '../../src/vmm/clone-qemu-args.js'
import { renderInitScript } from '../../src/vmm/image/guest-init.js'

test('printable ASCII goes as is, counted; it decodes back to the env file', t => {
  const env = { ROOST_MACHINE_ID: 'abc', QUOTED: "it's \"x\"\nsecond line" }
  const msg = identityLine(env)
  t.regex(msg, /^roost-identity-raw:([0-9a-f]+):3:\d+\n[\s\S]*roost-identity-end:\1\n$/)
  const text = parseIdentityLine(msg)
  t.true(text?.includes("export ROOST_MACHINE_ID='abc'"))
  t.true(text?.includes("export QUOTED='it'\\''s \"x\"\nsecond line'"))
  t.is(parseIdentityLine(msg.replace("'abc'", "'ab'")), null, 'a lost byte is caught by the count')
  t.not(identityLine(env), msg, 'each message has its own nonce')
})

test('anything else goes base64 on one line and decodes back to it', t => {
  const env = { ROOST_MACHINE_ID: 'abc', QUOTED: "it's \"x\"\nsecond line", TAB: 'a\tb', UTF: 'héllo' }
  const line = identityLine(env)
  t.regex(line, /^roost-identity:[A-Za-z0-9+/=]+:\d+:end\n$/)
  t.false(line.slice(0, -1).includes('\n'), 'one line, whatever the values hold')
  const text = parseIdentityLine(line)
  t.truthy(text)
  t.true(text?.includes("export ROOST_MACHINE_ID='abc'"))
  t.true(text?.includes("export QUOTED='it'\\''s \"x\"\nsecond line'"))
  t.true(text?.includes("export UTF='héllo'"))
})

test('a truncated or foreign line is not an identity', t => {
  const line = identityLine({ A: 'ü' })
  t.is(parseIdentityLine(line.slice(4)), null)
  t.is(parseIdentityLine(line.slice(0, 24) + line.slice(28)), null, 'bytes lost in the middle')
  t.is(parseIdentityLine('hello\n'), null)
})

test('the guest script is valid sh, and the image init sources it', t => {
  try {
    execFileSync('sh', ['-n'], { input: CLONE_SCRIPT })
    t.pass()
  } catch (err) {
    t.fail(`sh -n rejects the clone script: ${(err as Error).message}`)
  }
  t.true(renderInitScript([]).includes(`. /${CLONE_SCRIPT_PATH}`), 'guest-init.ts keeps the warm-clone hook')
  t.regex(cloneGuestVersion(), /^[0-9a-f]{16}$/)
})

test('every VM gets the identity UART and a named RAM backend; clones map the template file private', t => {
  t.deepEqual(identitySerialArgs('/x/id.sock'), ['-chardev', 'socket,id=roost-id,path=/x/id.sock,server=on,wait=off', '-device', 'isa-serial,chardev=roost-id,iobase=0x2f8,irq=3'])
  t.deepEqual(guestMemoryArgs(128, { kind: 'ram' }), ['-object', 'memory-backend-ram,id=roost-mem,size=128M', '-machine', 'memory-backend=roost-mem'])
  t.regex(guestMemoryArgs(64, { kind: 'template', path: '/s/ram.img' })[1] ?? '', /memory-backend-file,.*mem-path=\/s\/ram\.img,share=on$/)
  t.regex(guestMemoryArgs(64, { kind: 'clone', path: '/s/ram.img' })[1] ?? '', /memory-backend-file,.*mem-path=\/s\/ram\.img,share=off$/)
})
