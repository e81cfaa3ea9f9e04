import type { ImageManifest } from './image/manifest.js'

/** Which VM monitor runs a machine. */
export type DriverKind = 'qemu' | 'process'

/**
 * How the machine's guest port is reached from its host.
 * - `forward`: qemu user-mode networking with `hostfwd=tcp:127.0.0.1:hostPort-:guestPort`; the
 *   process driver runs the command in the host's network with `PORT=hostPort`.
 * - `namespace` (root only): a network namespace per machine joined to the host by a veth pair
 *   (see netns.ts); qemu puts a tap device in it, the process driver runs the command in it.
 *   The guest is reached at `endpoint.host:guestPort`.
 */
export type NetworkSpec =
  | { mode: 'forward', hostPort: number }
  | { mode: 'namespace' }

/** Everything a driver needs to run one machine. Plain data: it is persisted with the machine. */
export interface GuestSpec {
  machineId: string
  /** A directory owned by this machine (sockets, console log, snapshot, per-machine initrd); it exists. */
  dir: string
  image: ImageManifest
  /** Absolute directory of the image in the store (manifest paths are relative to it). */
  imageDir: string
  cpus: number
  memoryMb: number
  /** The guest app's environment (the driver adds PORT, ROOST_MACHINE_ID and the network settings). */
  env: Record<string, string>
  /** The port the guest app listens on (its `PORT`). */
  guestPort: number
  network: NetworkSpec
}

/** Where a running machine's guest port answers, from its host. */
export interface Endpoint {
  host: string
  port: number
}

/**
 * What it takes to find a running VM again after the agent itself was restarted (kill -9
 * included): persisted by the machines actor, given back to `adopt`.
 */
export interface RuntimeRecord {
  driver: DriverKind
  pid: number
  /** Process start time as the kernel reports it (/proc/PID/stat field 22), so a reused pid is not mistaken for the VM. */
  pidStartTicks: number
  endpoint: Endpoint
  /** qemu: the QMP unix socket. */
  qmpSocket?: string
  /** namespace networking: the namespace's name (removed on exit). */
  netns?: string
  /** Driver-specific extras (e.g. accel used). */
  extra?: Record<string, unknown>
}

/** How a VM ended. */
export interface ExitInfo {
  /** Why: the guest's app exited (`guest-exit`), a stop this host asked for (`stopped`), the VMM died or was killed (`crashed`). */
  reason: 'guest-exit' | 'stopped' | 'crashed'
  /** The guest app's exit code where known (qemu: read from the `roost-exit: N` console marker). */
  exitCode: number | null
  /** The VMM process's exit code or signal. */
  vmmExitCode: number | null
  signal: string | null
}

/**
 * What the VMM says of a guest it runs (qemu: QMP `query-status` and `query-migrate`).
 * - `running`: the guest runs.
 * - `paused`: the host stopped it (QMP `stop`), e.g. a suspend that never got to write its snapshot.
 * - `migrated`: its memory went out to a snapshot (QEMU `postmigrate`): it can only be quit or continued.
 * - `broken`: a state the guest cannot run on from (internal-error, guest-panicked, shutdown …).
 */
export interface VmStatus {
  run: 'running' | 'paused' | 'migrated' | 'broken'
  /** The VMM's own words (QEMU's status and migration status), for events and logs. */
  detail: string
  /** Whether a complete snapshot written by `suspend` is at the `snapshotPath` asked about. */
  snapshot: boolean
}

/** A running (or adopted) VM. */
export interface VmHandle {
  readonly record: RuntimeRecord
  /** Resolves once, when the VM is gone (never rejects). */
  readonly exited: Promise<ExitInfo>
  /** Graceful stop: ACPI power-down (qemu) / SIGTERM (process), then quit, then kill, each step with its own timeout. Resolves when the VM is gone. Idempotent. */
  stop: (opts?: { timeoutMs?: number, signal?: string }) => Promise<ExitInfo>
  /** Immediate kill (SIGKILL). */
  kill: () => Promise<ExitInfo>
  /** qemu only: pauses the guest and writes its full state to `snapshotPath`, then quits the VMM. */
  suspend: (snapshotPath: string) => Promise<void>
  /** Stops watching (the agent is going away) without touching the VM. */
  detach: () => void
  /**
   * Asks the VMM what the guest is doing; an outgoing snapshot still being written is waited
   * for (bounded), so the answer is settled. `snapshotPath`: where `suspend` would have written.
   */
  status: (opts?: { snapshotPath?: string }) => Promise<VmStatus>
  /** Runs a paused guest again (qemu: QMP `cont`, which also takes a guest back after `postmigrate`). */
  unpause: () => Promise<void>
}

/** A warm snapshot of an image on this host (see VmDriver.warmSnapshot). */
export interface WarmSnapshotInfo {
  /** Content address: image, kernel, CPUs, memory, accelerator, QEMU version. */
  key: string
  dir: string
  /** Whether it was already there (false: built by this call). */
  cached: boolean
  createdAt: string
  /** When built now: how long the template took to boot and to save. */
  buildMs?: { bootMs: number, saveMs: number }
}

/**
 * One VM monitor. `start` boots a fresh guest; `resume` boots one from a snapshot written by
 * `suspend`; `adopt` finds a VM started by an earlier agent process (null if it is gone).
 */
export interface VmDriver {
  readonly kind: DriverKind
  /** e.g. "qemu 7.2.x, accel tcg" — logged at agent start. */
  describe: () => string
  start: (spec: GuestSpec) => Promise<VmHandle>
  resume: (spec: GuestSpec, snapshotPath: string) => Promise<VmHandle>
  adopt: (spec: GuestSpec, record: RuntimeRecord) => Promise<VmHandle | null>
  /**
   * qemu only: starts the machine as a warm clone: restored from the snapshot of a booted
   * template of its image (built on first use, then cached per host) and given its own identity
   * (id, env, hostname, network) before its app starts. `record.extra.boot` is 'clone'.
   */
  clone?: (spec: GuestSpec) => Promise<VmHandle>
  /** qemu only: finds or builds the warm snapshot clones of `spec` start from. */
  warmSnapshot?: (spec: GuestSpec) => Promise<WarmSnapshotInfo>
  /** Reads the tail of the machine's console/output log (at most `maxBytes`). */
  logs: (spec: GuestSpec, maxBytes?: number) => Promise<string>
}
