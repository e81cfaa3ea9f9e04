import { readFileSync } from 'node:fs'

/**
 * The host CPU's clock in kHz from /proc/cpuinfo's `cpu MHz`, for the guest kernel's
 * `tsc_early_khz=`: under TCG the cloud kernel's TSC calibration hangs ~30% of boots without it.
 * Null when the host does not say.
 */
export function hostCpuKhz (cpuinfo?: string): number | null {
  let text = cpuinfo
  if (text === undefined) {
    try {
      text = readFileSync('/proc/cpuinfo', 'utf8')
    } catch {
      return null
    }
  }
  const m = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(text)
  if (m?.[1] === undefined) return null
  const khz = Math.round(Number(m[1]) * 1000)
  return Number.isFinite(khz) && khz > 0 ? khz : null
}
