import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { durationMs, type CheckStatus, type MachineState } from '../../src/api/machines/schemas.js'
import { IllegalTransitionError, MachineNotFoundError } from '../../src/errors/errors.js'
import { defineActor, type ActorContext, type ActorDefinition } from '../../src/runtime/actor.js'
import { systemClock } from '../../src/runtime/clock.js'
import { needOf } from '../../src/placement/capacity.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import type { ExitInfo, VmHandle, VmStatus } from '../../src/vmm/driver.js'
import type { MembershipProtocol } from '../membership/messages.js'
import type { VmFound } from './reconcile.js'
import { applyRecovery, dropSnapshot, type RecoveryOps } from './recovery.js'
import { RUNNING_STATES, assertAllowed, decideRestart, describeExit, restartPolicyOf } from './lifecycle.js'
import type { MachineComponents } from './components.js'
import { machineProtocol, type MachineProtocol, type MachinesProtocol } from './messages.js'
import { MAX_EVENTS, bootOf, healthOf, rowKeyOf, toRow, toView, type MachineRecord } from './record.js'
import { buildGuestSpec } from './guest-spec.js'
import { machineStateMessage } from './state-event.js'
import { checkSpecs } from './check-specs.js'

export interface MachineActorInit {
  id: string
  /** `<dataDir>/machines`: this machine's files live in `<machinesDir>/<id>`. */
  machinesDir: string
}

type Ctx = ActorContext<MachineProtocol>

const STOP_TIMEOUT_MS = 10_000
/** How long an agent stopping with its VMs waits for a boot under way to end, to kill its VM. */
const SHUTDOWN_LAUNCH_WAIT_MS = 15_000
/** In the machine's directory: where a suspend writes the guest's memory. */
const SNAPSHOT_FILE = 'snapshot.bin'

async function within (p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p, new Promise(resolve => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}

export const newInstanceId = (): string => randomBytes(8).toString('hex').toUpperCase()

/**
 * One machine. Handlers only decide and record; VM work (boot, stop, suspend, adopt) runs in
 * the background and reports back with `machine.vm-*` messages tagged with the operation's
 * generation, so the actor answers `get` while a VM boots and a stale report changes nothing.
 * Crash policy: restart (the new instance re-adopts the VM from the store), then stop.
 */
export function machineActor (init: MachineActorInit, components: MachineComponents): ActorDefinition<MachineProtocol> {
  const clock = components.clock ?? systemClock
  return defineActor({
    protocol: machineProtocol,
    policy: policies.restart({ backoff: { initialMs: 100, maxMs: 2_000 }, maxRestarts: 5, withinMs: 60_000, onExhausted: 'stop' }),
    create (ctx: Ctx) {
      const stored = components.store.get(init.id)
      if (stored === undefined) throw new MachineNotFoundError(`machine ${init.id} has no record`, { id: init.id })
      const rec = stored.record as unknown as MachineRecord
      const dir = join(init.machinesDir, rec.id)
      const membership = ref<MembershipProtocol>(ctx.system.hostId, '/agent/membership')
      const self = ctx.self
      let gen = 0
      let vm: VmHandle | null = null
      /** A VM the store records is being re-adopted (until `machine.vm-adopted`). */
      let adopting = false
      let launched: VmHandle | null = null
      let lastExit: ExitInfo | null = null
      let pending: { stop?: boolean, restart?: boolean, destroy?: boolean, force?: boolean } = {}
      let retryTimer: unknown = null
      let checker: { stop: () => void } | null = null
      let stopping: { timeoutMs: number, signal?: string } = { timeoutMs: STOP_TIMEOUT_MS }
      /** The boot under way, if any (its VM is in `launched` once it is up). */
      let inflight: Promise<void> | null = null
      /** The agent stopped with its VMs: a boot that ends after that kills its own VM. */
      let shutDown = false

      const send = (msg: Parameters<typeof ctx.system.dispatch<MachineProtocol>>[1]): void => {
        ctx.system.dispatch(self, msg, { from: ctx.path })
      }
      const persist = (): void => {
        rec.updatedAt = clock.now()
        components.store.put({ id: rec.id, app: rec.app, record: rec as unknown as Record<string, unknown> })
        ctx.system.dispatch(membership, { type: 'membership.write', table: 'machines', key: rowKeyOf(rec), data: toRow(rec) })
      }
      const event = (type: string, status: string, extra: { exit_code?: number | null, message?: string, source?: string } = {}): void => {
        rec.events.unshift({ type, status, source: extra.source ?? 'roost', timestamp: clock.now(), ...(extra.exit_code === undefined ? {} : { exit_code: extra.exit_code }), ...(extra.message === undefined ? {} : { message: extra.message }) })
        if (rec.events.length > MAX_EVENTS) rec.events.length = MAX_EVENTS
      }
      const setState = (state: MachineState, type: string, extra?: Parameters<typeof event>[2]): void => {
        const from = rec.state
        rec.state = state
        event(type, state, extra)
        persist()
        ctx.log.info({ machine: rec.id, from, to: state, event: type, ...extra }, 'machine state')
        components.events.record('machine.state', machineStateMessage(rec, from, state, type, extra?.message), {
          machine: rec.id, app: rec.app, name: rec.name, from, to: state, event: type, ...extra
        })
      }
      const checkApp = (app: string): void => {
        if (app !== rec.app) throw new MachineNotFoundError(`no machine ${rec.id} in app ${app}`, { id: rec.id, app })
      }
      const driver = () => {
        const d = components.drivers[rec.driver]
        if (d === undefined) throw new IllegalTransitionError(`driver ${rec.driver} is not available on this host`, { id: rec.id, driver: rec.driver })
        return d
      }
      const stopChecks = (): void => { checker?.stop(); checker = null }
      const startChecks = (): void => {
        stopChecks()
        const checks = rec.config.checks ?? {}
        const endpoint = rec.runtime?.endpoint
        if (Object.keys(checks).length === 0 || endpoint === undefined || components.healthChecks === undefined) return
        rec.checks = {}
        const g = gen
        const specs = checkSpecs(rec.config, endpoint)
        checker = components.healthChecks(specs, (name, result, failures) => {
          send({ type: 'machine.check', gen: g, name, status: result.status, output: result.output.slice(0, 1024), failures })
        })
      }
      const watch = (h: VmHandle, g: number): void => {
        h.exited.then((exit) => { lastExit = exit; send({ type: 'machine.vm-exited', gen: g }) }, () => {})
      }

      const launch = (mode: 'boot' | 'resume', type: string): void => {
        const g = ++gen
        launched = null
        setState('starting', type)
        const snapshot = rec.snapshot
        const boot = (async () => {
          try {
            const spec = await buildGuestSpec(rec, dir, components)
            if (spec.network.mode === 'forward') rec.hostPort = spec.network.hostPort
            const d = driver()
            // from_snapshot: a warm clone where the driver can make one (qemu); a cold boot otherwise.
            const clone = rec.config.from_snapshot === true ? d.clone : undefined
            const how = mode === 'resume' && snapshot !== null ? 'resume' : clone !== undefined ? 'clone' : 'boot'
            const t0 = performance.now()
            try {
              launched = how === 'resume' && snapshot !== null ? await d.resume(spec, snapshot) : clone !== undefined ? await clone(spec) : await d.start(spec)
            } catch (err) {
              components.launches?.launched(rec.driver, how, (performance.now() - t0) / 1000, false)
              throw err
            }
            components.launches?.launched(rec.driver, how, (performance.now() - t0) / 1000, true)
            if (shutDown) { await launched.kill(); launched = null; return }
            send({ type: 'machine.vm-started', gen: g })
          } catch (err) {
            const e = err as { message?: string, code?: string }
            send({ type: 'machine.vm-failed', gen: g, message: String(e.message ?? err), code: String(e.code ?? 'ERR_VMM') })
          }
        })()
        inflight = boot
        void boot.finally(() => { if (inflight === boot) inflight = null })
      }
      const beginStop = (): void => {
        if (vm === null) return
        stopChecks()
        const h = vm
        const { timeoutMs, signal } = stopping
        const run = signal === 'SIGKILL' || pending.force === true ? h.kill() : h.stop({ timeoutMs, ...(signal === undefined ? {} : { signal }) })
        run.catch((err: unknown) => { ctx.log.warn({ err, machine: rec.id }, 'stop failed; killing the VM'); h.kill().catch(() => {}) })
      }
      const finishDestroy = (): void => {
        stopChecks()
        setState('destroyed', 'destroy')
        components.store.delete(rec.id)
        components.capacity.release(rec.id)
        ctx.system.dispatch(membership, { type: 'membership.delete', table: 'machines', key: rowKeyOf(rec) })
        rm(dir, { recursive: true, force: true }).catch(() => {})
        ctx.system.dispatch(ref<MachinesProtocol>(ctx.system.hostId, '/agent/machines'), { type: 'machines.reap' }, { from: ctx.path })
      }
      const afterDown = (): void => {
        if (pending.destroy === true) { pending = {}; finishDestroy(); return }
        if (pending.restart === true) { pending = {}; launch('boot', 'restart'); return }
        pending = {}
      }
      const onUnexpectedExit = (exit: ExitInfo): void => {
        const policy = restartPolicyOf(rec.config)
        const decision = decideRestart(policy, exit.exitCode, exit.reason === 'crashed', rec.restarts)
        const message = describeExit(exit)
        if (!decision.restart) {
          setState(decision.settle, 'exit', { exit_code: exit.exitCode, message })
          return
        }
        rec.restarts++
        setState('stopped', 'exit', { exit_code: exit.exitCode, message: `${message}; restart ${rec.restarts} (policy ${policy.policy}) in ${decision.delayMs} ms` })
        const g = ++gen
        retryTimer = clock.setTimeout(() => { retryTimer = null; send({ type: 'machine.retry', gen: g }) }, decision.delayMs)
      }
      const clearRetry = (): void => {
        if (retryTimer !== null) { clock.clearTimeout(retryTimer); retryTimer = null }
      }
      const view = () => toView(rec)

      const snapshotPath = join(dir, SNAPSHOT_FILE)
      let adoptedStatus: VmStatus | null = null
      /** Adopts `h` as this machine's running VM. */
      const take = (h: VmHandle): void => {
        vm = h
        rec.runtime = h.record
        watch(h, gen)
        if (rec.snapshot !== null) dropSnapshot(rec, snapshotPath)
      }
      const recoveryOps: RecoveryOps = {
        rec,
        snapshotPath,
        log: ctx.log,
        take,
        setState,
        adoptEvent: (message) => { event('adopt', rec.state, { message }); persist() },
        startChecks,
        beginStop: (force) => { if (force) pending.force = true; beginStop() },
        crashed: () => { onUnexpectedExit({ reason: 'crashed', exitCode: null, vmmExitCode: null, signal: null }) },
        finishDestroy,
        relaunch: () => { launch(rec.snapshot !== null ? 'resume' : 'boot', 'relaunch') }
      }
      const applyReconcile = async (found: VmFound, h: VmHandle | null): Promise<void> => { await applyRecovery(found, h, adoptedStatus, recoveryOps) }

      const recover = (): void => {
        const runtime = rec.runtime
        if (rec.state === 'destroying') pending = { destroy: true, force: true }
        if (runtime === null || !RUNNING_STATES.includes(rec.state) && rec.state !== 'destroying') {
          applyReconcile({ found: 'none' }, null).catch((err: unknown) => { ctx.log.error({ err, machine: rec.id }, 'recovery failed') })
          return
        }
        const g = ++gen
        adopting = true
        void (async () => {
          try {
            const spec = await buildGuestSpec(rec, dir, components, runtime)
            const h = await driver().adopt(spec, runtime)
            if (h !== null) {
              try {
                adoptedStatus = await h.status({ snapshotPath })
              } catch (err) {
                // A VM that cannot say what it is doing is of no use: end it, as if it had died.
                await h.kill()
                send({ type: 'machine.vm-adopted', gen: g, ok: false, message: `VM did not answer query-status: ${(err as Error).message}` })
                return
              }
            }
            launched = h
            send({ type: 'machine.vm-adopted', gen: g, ok: launched !== null, message: launched === null ? 'VM gone' : '' })
          } catch (err) {
            send({ type: 'machine.vm-adopted', gen: g, ok: false, message: (err as Error).message })
          }
        })()
      }
      recover()

      return {
        handlers: {
          'machine.get': (msg) => { checkApp(msg.app); return view() },
          'machine.start': (msg) => {
            checkApp(msg.app)
            assertAllowed(rec.id, rec.state, 'start')
            clearRetry()
            rec.restarts = 0
            launch(rec.state === 'suspended' && rec.snapshot !== null ? 'resume' : 'boot', rec.state === 'suspended' ? 'resume' : 'start')
            return view()
          },
          'machine.stop': (msg) => {
            checkApp(msg.app)
            if (rec.state === 'stopped' && retryTimer !== null) { clearRetry(); event('stop', 'stopped'); persist(); return view() }
            assertAllowed(rec.id, rec.state, 'stop')
            stopping = { timeoutMs: durationMs(msg.timeout, STOP_TIMEOUT_MS), ...(msg.signal === undefined ? {} : { signal: msg.signal }) }
            pending = { stop: true }
            setState('stopping', 'stop')
            beginStop()
            return view()
          },
          'machine.suspend': (msg) => {
            checkApp(msg.app)
            assertAllowed(rec.id, rec.state, 'suspend')
            if (rec.driver !== 'qemu') throw new IllegalTransitionError(`machine ${rec.id} runs on the ${rec.driver} driver, which cannot suspend`, { id: rec.id, driver: rec.driver })
            const h = vm
            if (h === null) throw new IllegalTransitionError(`machine ${rec.id} has no running VM`, { id: rec.id })
            const g = gen
            const path = snapshotPath
            stopChecks()
            setState('suspending', 'suspend')
            h.suspend(path).then(
              () => { rec.snapshot = path; send({ type: 'machine.vm-suspended', gen: g, ok: true, message: '' }) },
              (err: unknown) => { send({ type: 'machine.vm-suspended', gen: g, ok: false, message: (err as Error).message }) }
            )
            return view()
          },
          'machine.restart': (msg) => {
            checkApp(msg.app)
            assertAllowed(rec.id, rec.state, 'restart')
            clearRetry()
            rec.restarts = 0
            if (rec.state === 'started') {
              pending = { restart: true }
              setState('stopping', 'restart')
              beginStop()
            } else {
              launch('boot', 'restart')
            }
            return view()
          },
          'machine.cordon': (msg) => {
            checkApp(msg.app)
            assertAllowed(rec.id, rec.state, msg.cordoned ? 'cordon' : 'uncordon')
            rec.cordoned = msg.cordoned
            event(msg.cordoned ? 'cordon' : 'uncordon', rec.state)
            persist()
            return view()
          },
          'machine.update': async (msg) => {
            checkApp(msg.app)
            assertAllowed(rec.id, rec.state, 'update')
            await components.images.resolve(msg.config.image)
            if (msg.config.driver !== undefined && msg.config.driver !== rec.driver) throw new IllegalTransitionError('a machine cannot change driver; create a new one', { id: rec.id })
            components.capacity.reserve(rec.id, needOf(msg.config.guest))
            rec.config = msg.config
            if (msg.name !== undefined) rec.name = msg.name
            rec.version++
            rec.instanceId = newInstanceId()
            rec.snapshot = null
            event('update', rec.state, { message: `config version ${rec.version}` })
            persist()
            if (msg.skipLaunch === true) return view()
            if (rec.state === 'started') { pending = { restart: true }; setState('stopping', 'update'); beginStop() } else launch('boot', 'update')
            return view()
          },
          'machine.destroy': (msg) => {
            checkApp(msg.app)
            assertAllowed(rec.id, rec.state, msg.force ? 'destroy-force' : 'destroy')
            clearRetry()
            const before = rec.state
            pending = { destroy: true, force: msg.force }
            setState('destroying', 'destroy')
            // A VM still being booted or re-adopted is ended when that finishes (recorded state: destroying).
            if (vm !== null) beginStop()
            else if (before !== 'starting' && before !== 'replacing' && !adopting) finishDestroy()
            return view()
          },
          'machine.metadata': (msg) => {
            checkApp(msg.app)
            const metadata = { ...(rec.config.metadata ?? {}) }
            if (msg.value === null) delete metadata[msg.key]
            else metadata[msg.key] = msg.value
            rec.config = { ...rec.config, metadata }
            persist()
            return { metadata }
          },
          'machine.logs': async (msg) => {
            checkApp(msg.app)
            const spec = await buildGuestSpec(rec, dir, components, rec.runtime ?? undefined).catch(() => null)
            if (spec === null) return { text: '' }
            return { text: await driver().logs(spec, msg.maxBytes) }
          },
          'machine.shutdown': async (msg) => {
            clearRetry()
            stopChecks()
            const h = vm
            gen++
            if (msg.stopVms) shutDown = true
            if (msg.stopVms && h === null && (inflight !== null || launched !== null)) {
              // A VM still booting would outlive the agent: wait for it (bounded) and end it.
              if (inflight !== null) await within(inflight, SHUTDOWN_LAUNCH_WAIT_MS)
              const booted = launched
              launched = null
              if (booted !== null) await booted.kill()
              rec.runtime = null
              setState('stopped', 'agent-shutdown', { message: 'the agent stopped while the VM was booting; the VM was ended' })
              return
            }
            if (h === null) return
            if (!msg.stopVms) { h.detach(); return }
            await h.stop({ timeoutMs: 5_000 }).catch(async () => await h.kill())
            rec.runtime = null
            setState('stopped', 'agent-shutdown')
          },
          'machine.vm-started': (msg) => {
            const h = launched
            launched = null
            if (h === null) return
            if (msg.gen !== gen) { h.kill().catch(() => {}); return }
            vm = h
            rec.runtime = h.record
            watch(h, gen)
            if (rec.snapshot !== null) { rm(rec.snapshot, { force: true }).catch(() => {}); rec.snapshot = null }
            if (pending.destroy === true) { beginStop(); persist(); return }
            if (pending.stop === true) { persist(); beginStop(); return }
            const how = bootOf(rec)
            const from = how?.mode === 'clone' ? `, warm clone of snapshot ${how.snapshot ?? '?'}` : how?.mode === 'resume' ? ', resumed' : ''
            setState('started', 'launch', { message: `pid ${h.record.pid}, ${h.record.endpoint.host}:${h.record.endpoint.port}${from}` })
            startChecks()
          },
          'machine.vm-failed': (msg) => {
            if (msg.gen !== gen) return
            if (pending.destroy === true) { pending = {}; finishDestroy(); return }
            pending = {}
            setState(rec.state === 'stopping' ? 'stopped' : 'failed', 'launch-failed', { message: `${msg.code}: ${msg.message}` })
          },
          'machine.vm-exited': (msg) => {
            if (msg.gen !== gen && !(rec.state === 'destroying' || rec.state === 'stopping')) return
            const exit = lastExit ?? { reason: 'crashed', exitCode: null, vmmExitCode: null, signal: null }
            vm = null
            rec.runtime = null
            stopChecks()
            if (rec.state === 'suspending') { persist(); return }
            if (rec.state === 'stopping' || rec.state === 'destroying') {
              if (rec.state === 'stopping') setState('stopped', 'exit', { exit_code: exit.exitCode, message: `stopped (${exit.reason})` })
              afterDown()
              return
            }
            if (rec.state === 'started' || rec.state === 'starting') onUnexpectedExit(exit)
          },
          'machine.vm-suspended': (msg) => {
            if (msg.gen !== gen || rec.state !== 'suspending') return
            if (msg.ok) {
              vm = null
              rec.runtime = null
              setState('suspended', 'suspend', { message: 'memory written to the snapshot' })
              return
            }
            if (vm !== null) { setState('started', 'suspend-failed', { message: msg.message }); startChecks() } else setState('failed', 'suspend-failed', { message: msg.message })
          },
          'machine.vm-adopted': async (msg) => {
            if (msg.gen !== gen) return
            adopting = false
            const h = launched
            launched = null
            if (msg.ok && h !== null && adoptedStatus !== null) {
              await applyReconcile({ found: 'alive', run: adoptedStatus.run }, h)
              return
            }
            rec.runtime = null
            ctx.log.warn({ machine: rec.id, reason: msg.message }, 'VM died while the agent was away')
            await applyReconcile({ found: 'gone' }, null)
          },
          'machine.retry': (msg) => {
            if (msg.gen !== gen || rec.state !== 'stopped') return
            launch('boot', 'restart')
          },
          'machine.check': (msg) => {
            if (msg.gen !== gen || rec.state !== 'started') return
            const before = healthOf(rec)
            const status: CheckStatus = { name: msg.name, status: msg.status, output: msg.output, updated_at: new Date(clock.now()).toISOString() }
            const prev = rec.checks[msg.name]
            rec.checks[msg.name] = status
            const limit = rec.config.checks?.[msg.name]?.restart_limit ?? 0
            if (limit > 0 && msg.status === 'critical' && msg.failures >= limit) {
              event('check', 'critical', { message: `check ${msg.name} failed ${msg.failures} times: restarting` })
              pending = { restart: true }
              setState('stopping', 'health-restart')
              beginStop()
              return
            }
            if (prev?.status !== status.status || healthOf(rec) !== before) { event('check', msg.status, { message: `${msg.name}: ${msg.output}` }); persist() } else {
              components.store.put({ id: rec.id, app: rec.app, record: rec as unknown as Record<string, unknown> })
            }
          }
        },
        stop () {
          clearRetry()
          stopChecks()
        }
      }
    }
  })
}
