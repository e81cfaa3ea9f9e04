import { randomBytes } from 'node:crypto'
import { ImageError, InvalidArgumentError } from '../../src/errors/errors.js'
import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { systemClock } from '../../src/runtime/clock.js'
import { needOf, type GuestSize } from '../../src/placement/capacity.js'
import { FIRST_GENERATION } from '../../src/placement/machine-rows.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import type { MachineConfig, MachineView } from '../../src/api/machines/schemas.js'
import type { DriverKind } from '../../src/vmm/driver.js'
import type { MachineComponents } from './components.js'
import { machineActor, newInstanceId } from './machine-actor.js'
import { machinesProtocol, type MachineProtocol, type MachinesProtocol } from './messages.js'
import type { MachineRecord } from './record.js'
import { machineStateMessage } from './state-event.js'

export interface MachinesActorInit {
  /** `<dataDir>/machines`. */
  machinesDir: string
  region: string
  /** The driver machines use unless their config names one. */
  defaultDriver: DriverKind
}

const CHILD_ASK_MS = 5_000

/**
 * `/agent/machines`: creates machines and owns one child actor per machine (named by its id,
 * so any host reaches it at `/agent/machines/<id>`). At start it spawns a child for every
 * machine in the store; each child re-adopts its VM or applies its restart policy.
 * Crash policy: restart (children are re-created from the store), escalate past 10 a minute.
 */
export function machinesActor (init: MachinesActorInit, components: MachineComponents): ActorDefinition<MachinesProtocol> {
  const clock = components.clock ?? systemClock
  return defineActor({
    protocol: machinesProtocol,
    policy: policies.restart({ maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create (ctx) {
      const spawnChild = (id: string): void => {
        ctx.spawn(id, machineActor({ id, machinesDir: init.machinesDir }, components))
      }
      for (const m of components.store.list()) {
        components.capacity.hold(m.id, needOf((m.record as { config?: { guest?: GuestSize } }).config?.guest))
        try {
          spawnChild(m.id)
        } catch (err) {
          ctx.log.error({ err, machine: m.id }, 'could not restore machine')
        }
      }
      const childIds = (): string[] => ctx.children().map(p => p.slice(p.lastIndexOf('/') + 1))
      const askChild = async <K extends keyof MachineProtocol & string>(id: string, msg: Parameters<typeof ctx.system.ask<MachineProtocol, K>>[1]) =>
        await ctx.system.ask<MachineProtocol, K>(ref<MachineProtocol>(ctx.system.hostId, `${ctx.path}/${id}`), msg, { timeoutMs: CHILD_ASK_MS })
      const newId = (): string => {
        for (;;) {
          const id = randomBytes(7).toString('hex')
          if (!childIds().includes(id) && components.store.get(id) === undefined) return id
        }
      }
      const create = async (c: {
        app: string, id: string, config: MachineConfig, name?: string, region: string, generation: number, createdAt: number,
        event: { type: string, source: string, message?: string }, launch: boolean
      }): Promise<MachineView> => {
        const driver = c.config.driver ?? init.defaultDriver
        if (components.drivers[driver] === undefined) throw new InvalidArgumentError(`driver ${driver} is not available on this host (available: ${Object.keys(components.drivers).join(', ')})`, { driver })
        if (c.config.network === 'namespace' && process.getuid?.() !== 0) throw new InvalidArgumentError('namespace networking needs the agent to run as root', {})
        const image = await components.images.resolve(c.config.image).catch((err: unknown) => {
          throw err instanceof ImageError ? err : new ImageError(`image ${c.config.image}: ${(err as Error).message}`, { image: c.config.image })
        })
        const id = c.id
        components.capacity.reserve(id, needOf(c.config.guest))
        const now = clock.now()
        const rec: MachineRecord = {
          id,
          app: c.app,
          name: c.name ?? `${c.app}-${id.slice(0, 6)}`,
          region: c.region,
          host: ctx.system.hostId,
          createdAt: c.createdAt,
          updatedAt: now,
          version: 1,
          generation: c.generation,
          instanceId: newInstanceId(),
          config: { ...c.config, image: c.config.image.startsWith('sha256:') || /^[0-9a-f]{64}$/.test(c.config.image) ? c.config.image : image.manifest.digest },
          state: 'created',
          cordoned: false,
          restarts: 0,
          events: [{ type: c.event.type, status: 'created', source: c.event.source, timestamp: now, ...(c.event.message === undefined ? {} : { message: c.event.message }) }],
          driver,
          hostPort: null,
          runtime: null,
          snapshot: null,
          checks: {}
        }
        try {
          components.store.put({ id, app: c.app, record: rec as unknown as Record<string, unknown> })
          spawnChild(id)
        } catch (err) {
          components.capacity.release(id)
          throw err
        }
        ctx.log.info({ machine: id, app: c.app, driver, generation: c.generation, image: image.manifest.digest.slice(0, 12) }, c.generation > FIRST_GENERATION ? 'machine re-created by failover' : 'machine created')
        components.events.record('machine.state', machineStateMessage(rec, null, 'created', c.event.type, c.event.message), {
          machine: id, app: c.app, name: rec.name, from: null, to: 'created', event: c.event.type, generation: c.generation, driver
        })
        if (!c.launch) return await askChild<'machine.get'>(id, { type: 'machine.get', app: c.app })
        return await askChild<'machine.start'>(id, { type: 'machine.start', app: c.app })
      }
      return {
        handlers: {
          'machines.status': () => ({
            ready: true,
            implemented: true,
            driver: init.defaultDriver,
            drivers: Object.keys(components.drivers),
            machines: ctx.children().length
          }),
          'machines.create': async (msg) => await create({
            app: msg.app,
            id: newId(),
            config: msg.config,
            ...(msg.name === undefined ? {} : { name: msg.name }),
            region: msg.region ?? init.region,
            generation: FIRST_GENERATION,
            createdAt: clock.now(),
            event: { type: 'create', source: 'user' },
            launch: msg.skipLaunch !== true
          }),
          'machines.replace': async (msg) => {
            if (childIds().includes(msg.id) || components.store.get(msg.id) !== undefined) {
              throw new InvalidArgumentError(`machine ${msg.id} is already on this host`, { id: msg.id })
            }
            return await create({
              app: msg.app,
              id: msg.id,
              config: msg.config,
              name: msg.name,
              region: msg.region,
              generation: msg.generation,
              createdAt: msg.createdAt,
              event: { type: 'failover', source: 'roost', message: `generation ${msg.generation}, replacing the copy on another host` },
              launch: msg.skipLaunch !== true
            })
          },
          'machines.list': async (msg) => {
            const ids = childIds()
            const views = await Promise.all(ids.map(async id => {
              const stored = components.store.get(id)
              if (stored === undefined || (msg.app !== undefined && stored.app !== msg.app)) return null
              return await askChild<'machine.get'>(id, { type: 'machine.get', app: stored.app }).catch(() => null)
            }))
            return { machines: views.filter((v): v is MachineView => v !== null) }
          },
          'machines.shutdown': async (msg) => {
            await Promise.all(childIds().map(async id => {
              await ctx.system.ask(ref<MachineProtocol>(ctx.system.hostId, `${ctx.path}/${id}`), { type: 'machine.shutdown', stopVms: msg.stopVms }, { timeoutMs: 20_000, from: ctx.path })
                .catch((err: unknown) => { ctx.log.warn({ err, machine: id }, 'machine shutdown failed') })
            }))
          },
          'machines.reap': (_msg, _ctx, sender) => { ctx.stopChild(sender.path.slice(ctx.path.length + 1)) }
        }
      }
    }
  })
}
