import { randomBytes } from 'node:crypto'
import { ImageError, InvalidArgumentError } from '../../src/errors/errors.js'
import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { systemClock } from '../../src/runtime/clock.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import type { MachineView } from '../../src/api/machines/schemas.js'
import type { DriverKind } from '../../src/vmm/driver.js'
import type { MachineComponents } from './components.js'
import { machineActor, newInstanceId } from './machine-actor.js'
import { machinesProtocol, type MachineProtocol, type MachinesProtocol } from './messages.js'
import type { MachineRecord } from './record.js'

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
      return {
        handlers: {
          'machines.status': () => ({
            ready: true,
            implemented: true,
            driver: init.defaultDriver,
            drivers: Object.keys(components.drivers),
            machines: ctx.children().length
          }),
          'machines.create': async (msg) => {
            const driver = msg.config.driver ?? init.defaultDriver
            if (components.drivers[driver] === undefined) throw new InvalidArgumentError(`driver ${driver} is not available on this host (available: ${Object.keys(components.drivers).join(', ')})`, { driver })
            if (msg.config.network === 'namespace' && process.getuid?.() !== 0) throw new InvalidArgumentError('namespace networking needs the agent to run as root', {})
            const image = await components.images.resolve(msg.config.image).catch((err: unknown) => {
              throw err instanceof ImageError ? err : new ImageError(`image ${msg.config.image}: ${(err as Error).message}`, { image: msg.config.image })
            })
            const id = newId()
            const now = clock.now()
            const rec: MachineRecord = {
              id,
              app: msg.app,
              name: msg.name ?? `${msg.app}-${id.slice(0, 6)}`,
              region: msg.region ?? init.region,
              host: ctx.system.hostId,
              createdAt: now,
              updatedAt: now,
              version: 1,
              instanceId: newInstanceId(),
              config: { ...msg.config, image: msg.config.image.startsWith('sha256:') || /^[0-9a-f]{64}$/.test(msg.config.image) ? msg.config.image : image.manifest.digest },
              state: 'created',
              cordoned: false,
              restarts: 0,
              events: [{ type: 'create', status: 'created', source: 'user', timestamp: now }],
              driver,
              hostPort: null,
              runtime: null,
              snapshot: null,
              checks: {}
            }
            components.store.put({ id, app: msg.app, record: rec as unknown as Record<string, unknown> })
            spawnChild(id)
            ctx.log.info({ machine: id, app: msg.app, driver, image: image.manifest.digest.slice(0, 12) }, 'machine created')
            if (msg.skipLaunch === true) return await askChild<'machine.get'>(id, { type: 'machine.get', app: msg.app })
            return await askChild<'machine.start'>(id, { type: 'machine.start', app: msg.app })
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
