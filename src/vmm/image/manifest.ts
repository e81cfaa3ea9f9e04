import { Type, type Static } from '@sinclair/typebox'

/**
 * An image in the store: `<imagesDir>/<digest>/manifest.json`, all paths relative to that
 * directory. `digest` is the sha256 (hex) of the kernel and the initrd, so equal inputs give the
 * same image.
 * - `kernel`: the guest kernel: roost's minimal vmlinux (`kernelKind` 'minimal-pvh'), or the
 *   bzImage of Debian's linux-image-*-cloud-amd64 package.
 * - `initrd`: base initramfs (busybox, init, the kernel modules it loads; a plain cpio with the
 *   minimal kernel, gzip'd with the distribution one) followed by
 *   the app layer (gzip'd cpio of the user's directory under /app). Drivers may append one more
 *   gzip'd cpio with per-machine settings (`/etc/roost/env`).
 * - `app`: the app directory unpacked (the process driver runs `app/run`).
 */
export const ImageManifestSchema = Type.Object({
  schema: Type.Literal(1),
  digest: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  /** Optional human name (`roost image build --name`). */
  name: Type.Optional(Type.String({ maxLength: 128 })),
  kernel: Type.String(),
  initrd: Type.String(),
  app: Type.String(),
  kernelVersion: Type.String(),
  /**
   * Which kernel `kernel` is: 'minimal-pvh' (roost's own build, an uncompressed vmlinux QEMU boots
   * through PVH, everything built in, no modules) or 'distribution' (Debian's cloud bzImage plus
   * modules). Absent in images built before it existed: distribution.
   */
  kernelKind: Type.Optional(Type.Union([Type.Literal('minimal-pvh'), Type.Literal('distribution')])),
  /** Kernel modules the base init loads, in order. */
  modules: Type.Array(Type.String()),
  createdAt: Type.String(),
  sizeBytes: Type.Integer({ minimum: 0 })
})

export type ImageManifest = Static<typeof ImageManifestSchema>

/** Which kernel an image boots (see ImageManifest.kernelKind). */
export type KernelKind = 'minimal-pvh' | 'distribution'

/**
 * The contract between drivers and the image's `/init` (busybox sh, PID 1):
 * - the driver's per-machine cpio holds `/etc/roost/env`, lines of `export NAME='value'`
 *   (single quotes escaped as '\''), with ROOST_MACHINE_ID, PORT, ROOST_IP (cidr), ROOST_GW and
 *   the user's env; init sources it and runs `/app/run` with it;
 * - when `/app/run` exits, init writes `roost-exit: <code>` on a line of its own to the console
 *   and powers the VM off;
 * - on the ACPI power button, init sends SIGTERM to the app, waits up to ROOST_KILL_TIMEOUT
 *   seconds (default 5), SIGKILLs it, writes the marker and powers off.
 */
export const GUEST_ENV_FILE = '/etc/roost/env'
export const EXIT_MARKER = 'roost-exit: '
