/**
 * The minimal guest kernel's configuration: `make ARCH=x86_64 tinyconfig` plus this fragment
 * (merged with scripts/kconfig/merge_config.sh, then `make olddefconfig`). Part of the kernel
 * cache key: any edit here rebuilds the kernel once per machine.
 *
 * Why the less obvious lines are there (measured under TCG, see platform-facts.md):
 * - VT, LEGACY_PTYS, IPV6 are turned on by TTY/INET; they cost ~130 ms of boot.
 * - SMP off and -O2 (not -Os, which frees init memory a byte at a time, slow under TCG).
 * - ACPI needs PCI on 6.1 (ACPICA fails at region initialisation without it); ACPI gives the
 *   guest microvm's power button (evdev + button → busybox acpid → the app's SIGTERM), so a
 *   machine stops exactly as with Debian's kernel. Measured against `-M microvm,acpi=off` on the
 *   same kernel: no slower to boot (within noise), ~6 MB more RSS.
 * - GZIP only: the bzImage fallback decompresses fast, and initramfs layers are gzip or plain.
 * - The rest of the "not set" lines drop what tinyconfig + ACPI/INPUT pull in and a microvm does
 *   not have (batteries, fans, thermal zones, PS/2, HID): less to build, probe and free at boot.
 */
export const GUEST_KERNEL_FRAGMENT = `# roost minimal guest kernel (applied on top of ARCH=x86_64 tinyconfig)
CONFIG_64BIT=y
CONFIG_LOCALVERSION="-roost"
# CONFIG_LOCALVERSION_AUTO is not set
# CONFIG_SMP is not set
CONFIG_CC_OPTIMIZE_FOR_PERFORMANCE=y
# CONFIG_MODULES is not set
CONFIG_KERNEL_GZIP=y
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_BUG=y
CONFIG_MULTIUSER=y
CONFIG_TTY=y
# CONFIG_VT is not set
# CONFIG_LEGACY_PTYS is not set
CONFIG_UNIX98_PTYS=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
# CONFIG_RD_BZIP2 is not set
# CONFIG_RD_LZMA is not set
# CONFIG_RD_XZ is not set
# CONFIG_RD_LZO is not set
# CONFIG_RD_LZ4 is not set
# CONFIG_RD_ZSTD is not set
CONFIG_DEVTMPFS=y
CONFIG_PROC_FS=y
CONFIG_PROC_SYSCTL=y
CONFIG_SYSFS=y
CONFIG_TMPFS=y
CONFIG_SHMEM=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_POSIX_TIMERS=y
CONFIG_FUTEX=y
CONFIG_EPOLL=y
CONFIG_SIGNALFD=y
CONFIG_TIMERFD=y
CONFIG_EVENTFD=y
CONFIG_AIO=y
CONFIG_FILE_LOCKING=y
CONFIG_ADVISE_SYSCALLS=y
CONFIG_MEMBARRIER=y
CONFIG_SYSVIPC=y
CONFIG_NET=y
CONFIG_INET=y
# CONFIG_IPV6 is not set
CONFIG_UNIX=y
CONFIG_PACKET=y
CONFIG_NETDEVICES=y
CONFIG_NET_CORE=y
CONFIG_VIRTIO_MENU=y
CONFIG_VIRTIO=y
CONFIG_VIRTIO_MMIO=y
CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y
CONFIG_VIRTIO_NET=y
CONFIG_HYPERVISOR_GUEST=y
CONFIG_PARAVIRT=y
CONFIG_PVH=y
CONFIG_KVM_GUEST=y
CONFIG_ACPI=y
CONFIG_ACPI_REDUCED_HARDWARE_ONLY=y
CONFIG_PCI=y
CONFIG_INPUT=y
CONFIG_INPUT_EVDEV=y
CONFIG_ACPI_BUTTON=y
# CONFIG_ACPI_AC is not set
# CONFIG_ACPI_BATTERY is not set
# CONFIG_ACPI_FAN is not set
# CONFIG_ACPI_THERMAL is not set
# CONFIG_ACPI_PROCESSOR is not set
# CONFIG_ACPI_TABLE_UPGRADE is not set
# CONFIG_PCIEASPM is not set
# CONFIG_PNP_DEBUG_MESSAGES is not set
# CONFIG_INPUT_KEYBOARD is not set
# CONFIG_INPUT_MOUSE is not set
# CONFIG_SERIO is not set
# CONFIG_HID is not set
`

/** One `CONFIG_X=value` (or `# CONFIG_X is not set`, value 'n') line of a kernel config. */
export function parseKernelConfig (text: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line.trim())
    if (set?.[1] !== undefined) {
      out.set(set[1], set[2] ?? '')
      continue
    }
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line.trim())
    if (unset?.[1] !== undefined) out.set(unset[1], 'n')
  }
  return out
}

/**
 * The fragment's options the final .config does not carry as asked (Kconfig silently drops an
 * option whose dependencies are off), as `CONFIG_X: wanted y, got n` strings.
 */
export function unmetOptions (fragment: string, finalConfig: string): string[] {
  const want = parseKernelConfig(fragment)
  const have = parseKernelConfig(finalConfig)
  const out: string[] = []
  for (const [name, value] of want) {
    const got = have.get(name) ?? 'n'
    if (got !== value) out.push(`${name}: wanted ${value}, got ${got}`)
  }
  return out
}
