import test from 'ava'
import { buildQemuArgs, kernelCmdline, shellQuote, type QemuArgsInit } from '../../src/vmm/qemu-args.js'
import { hostCpuKhz } from '../../src/vmm/host-cpu.js'

const base: QemuArgsInit = {
  accel: 'tcg',
  cpus: 1,
  memoryMb: 128,
  kernel: '/images/abc/kernel',
  initrd: '/m/1/initrd.img',
  consoleLog: '/m/1/console.log',
  qmpSocket: '/m/1/qmp.sock',
  tscKhz: 1996249,
  net: { mode: 'user', hostPort: 40001, guestPort: 8080 }
}

function flag (args: string[], name: string): string | undefined {
  const i = args.indexOf(name)
  return i < 0 ? undefined : args[i + 1]
}

test('a tcg microvm with user networking', t => {
  const args = buildQemuArgs(base)
  t.is(flag(args, '-M'), 'microvm')
  t.is(flag(args, '-accel'), 'tcg')
  t.is(flag(args, '-cpu'), 'max')
  t.is(flag(args, '-smp'), '1')
  t.is(flag(args, '-m'), '128')
  for (const f of ['-nodefaults', '-no-user-config', '-nographic', '-no-reboot']) t.true(args.includes(f), f)
  t.is(flag(args, '-kernel'), '/images/abc/kernel')
  t.is(flag(args, '-initrd'), '/m/1/initrd.img')
  t.is(flag(args, '-append'), 'console=ttyS0 reboot=t panic=-1 quiet cryptomgr.notests security=none audit=0 ima_appraise=off init_on_free=1 tsc_early_khz=1996249')
  t.is(flag(args, '-chardev'), 'file,id=con0,path=/m/1/console.log,append=on')
  t.is(flag(args, '-serial'), 'chardev:con0')
  t.is(flag(args, '-qmp'), 'unix:/m/1/qmp.sock,server=on,wait=off')
  t.is(flag(args, '-netdev'), 'user,id=n0,hostfwd=tcp:127.0.0.1:40001-:8080')
  t.is(flag(args, '-device'), 'virtio-net-device,netdev=n0')
  t.false(args.includes('-incoming'))
})

test('kvm uses the host cpu', t => {
  const args = buildQemuArgs({ ...base, accel: 'kvm', cpus: 2, memoryMb: 256 })
  t.is(flag(args, '-accel'), 'kvm')
  t.is(flag(args, '-cpu'), 'host')
  t.is(flag(args, '-smp'), '2')
  t.is(flag(args, '-m'), '256')
})

test('resume adds -incoming with a quoted snapshot path', t => {
  t.is(flag(buildQemuArgs({ ...base, incomingSnapshot: '/m/1/snap.bin' }), '-incoming'), 'exec:cat /m/1/snap.bin')
  t.is(flag(buildQemuArgs({ ...base, incomingSnapshot: "/m/it's here/s" }), '-incoming'), "exec:cat '/m/it'\\''s here/s'")
})

test('tap and no networking', t => {
  const tap = buildQemuArgs({ ...base, net: { mode: 'tap', ifname: 'rtap0', mac: '52:54:00:00:00:02' } })
  t.is(flag(tap, '-netdev'), 'tap,id=n0,ifname=rtap0,script=no,downscript=no')
  t.is(flag(tap, '-device'), 'virtio-net-device,netdev=n0,mac=52:54:00:00:00:02')
  const none = buildQemuArgs({ ...base, net: { mode: 'none' } })
  t.false(none.includes('-netdev'))
  t.false(none.includes('-device'))
})

test('kernel command line without a known clock, with extras', t => {
  t.is(kernelCmdline(null, ['rdinit=/probe']), 'console=ttyS0 reboot=t panic=-1 quiet cryptomgr.notests security=none audit=0 ima_appraise=off init_on_free=1 rdinit=/probe')
})

test('shellQuote', t => {
  t.is(shellQuote('/a/b-c_d.e'), '/a/b-c_d.e')
  t.is(shellQuote('/a b'), "'/a b'")
  t.is(shellQuote("x'y"), "'x'\\''y'")
})

test('hostCpuKhz reads cpu MHz', t => {
  t.is(hostCpuKhz('processor\t: 0\ncpu MHz\t\t: 1996.249\n'), 1996249)
  t.is(hostCpuKhz('processor\t: 0\n'), null)
  const here = hostCpuKhz()
  t.true(here === null || here > 0)
})

test('the minimal PVH kernel: no ERMS/FSRM under tcg, a short command line, ACPI kept', t => {
  const args = buildQemuArgs({ ...base, kernel: '/images/abc/vmlinux', kernelKind: 'minimal-pvh' })
  t.is(flag(args, '-M'), 'microvm', 'ACPI stays on (the default) for the power button')
  t.is(flag(args, '-cpu'), 'max,-erms,-fsrm')
  t.is(flag(args, '-kernel'), '/images/abc/vmlinux')
  t.is(flag(args, '-append'), 'console=ttyS0 reboot=t panic=-1 quiet no_timer_check tsc_early_khz=1996249')
  t.is(flag(buildQemuArgs({ ...base, accel: 'kvm', kernelKind: 'minimal-pvh' }), '-cpu'), 'host')
  t.is(flag(buildQemuArgs({ ...base, kernelKind: 'distribution' }), '-cpu'), 'max')
  t.is(kernelCmdline(null, ['rdinit=/probe'], 'minimal-pvh'), 'console=ttyS0 reboot=t panic=-1 quiet no_timer_check rdinit=/probe')
})
