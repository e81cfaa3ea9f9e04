/** Values of `CI` that mean "not CI"; anything else non-empty (1, true, yes, a CI system's name) means CI. */
const NOT_CI = new Set(['', '0', 'false', 'no', 'off'])

/**
 * Whether we run under CI: any truthy `CI` environment variable. Under CI a missing system part
 * (a build tool, root, qemu…) is a failure where a developer's machine would skip or fall back.
 */
export function isCI (env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI
  return v !== undefined && !NOT_CI.has(v.trim().toLowerCase())
}
