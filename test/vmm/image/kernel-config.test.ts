import test from 'ava'
import { GUEST_KERNEL_FRAGMENT, parseKernelConfig, unmetOptions } from '../../../src/vmm/image/kernel-config.js'
import { guestKernelKey } from '../../../src/vmm/image/kernel-build.js'

test('parseKernelConfig reads set and unset options', t => {
  const c = parseKernelConfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="x y"\n# a comment\nCONFIG_D=0x10\n')
  t.deepEqual([...c.entries()], [['CONFIG_A', 'y'], ['CONFIG_B', 'n'], ['CONFIG_C', '"x y"'], ['CONFIG_D', '0x10']])
})

test('unmetOptions names what Kconfig dropped or changed', t => {
  const fragment = 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\nCONFIG_E="-roost"\n'
  t.deepEqual(unmetOptions(fragment, 'CONFIG_A=y\nCONFIG_C=y\nCONFIG_E="-roost"\n'), [])
  t.deepEqual(unmetOptions(fragment, 'CONFIG_A=m\nCONFIG_B=y\nCONFIG_E="-x"\n'), [
    'CONFIG_A: wanted y, got m', 'CONFIG_B: wanted n, got y', 'CONFIG_C: wanted y, got n', 'CONFIG_E: wanted "-roost", got "-x"'
  ])
})

test('the fragment builds a PVH kernel with everything the guest loads built in', t => {
  const c = parseKernelConfig(GUEST_KERNEL_FRAGMENT)
  for (const o of ['PVH', 'VIRTIO_MMIO', 'VIRTIO_NET', 'SERIAL_8250_CONSOLE', 'BLK_DEV_INITRD', 'RD_GZIP', 'DEVTMPFS', 'EPOLL', 'FUTEX', 'EVENTFD', 'TMPFS', 'SHMEM', 'UNIX', 'INET']) {
    t.is(c.get(`CONFIG_${o}`), 'y', o)
  }
  for (const o of ['MODULES', 'SMP', 'VT', 'LEGACY_PTYS', 'IPV6']) t.is(c.get(`CONFIG_${o}`), 'n', o)
})

test('the kernel key changes with the source version, the compiler and the fragment', t => {
  const k = { sourcePackage: 'linux-source-6.1', sourceVersion: '6.1.1-1', gcc: 'gcc 12.2.0', fragment: 'CONFIG_A=y\n' }
  const key = guestKernelKey(k)
  t.regex(key, /^[0-9a-f]{64}$/)
  t.is(guestKernelKey({ ...k }), key)
  t.not(guestKernelKey({ ...k, sourceVersion: '6.1.1-2' }), key)
  t.not(guestKernelKey({ ...k, gcc: 'gcc 12.2.1' }), key)
  t.not(guestKernelKey({ ...k, fragment: 'CONFIG_A=n\n' }), key)
})
