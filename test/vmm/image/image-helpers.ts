import type { Part } from '../../helpers/requirements.js'

/**
 * For tests whose first image build may compile the minimal kernel (once per machine: ~4 min on
 * 2 idle cores, ~12 under load): raises ava's 5 min timeout for that test.
 */
export const KERNEL_BUILD_TIMEOUT_MS = 30 * 60_000

/** What a real image build and boot need on this host. */
export const BOOT_PARTS: readonly Part[] = ['debian-tools', 'qemu']
