import { accountKey, challengeKey, CHALLENGE_TTL_MS } from '../../src/acme/acme-rows.js'
import type { IssuedCertificate, PresentedChallenge } from '../../src/acme/acme-order.js'
import { probeAddress, probeChallenge } from '../../src/acme/challenge-probe.js'
import { AcmeError } from '../../src/acme/errors.js'
import { dueRenewals, renewalCandidates, retryDelay } from '../../src/acme/renewal.js'
import { dataError } from '../../src/gossip/row-check.js'
import type { AcmeAccountRowData, AcmeChallengeRowData, CertRowData } from '../../src/gossip/rows.js'
import type { CertsAddReply } from '../../src/proxy/tls/cert-messages.js'
import { isCertHostname, normalizeHostname } from '../../src/proxy/tls/hostnames.js'
import { openKey, sealKey } from '../../src/proxy/tls/seal.js'
import { defineActor, type ActorDefinition } from '../../src/runtime/actor.js'
import { policies } from '../../src/runtime/policy.js'
import { ref } from '../../src/runtime/ref.js'
import type { MembershipProtocol } from '../membership/messages.js'
import { certView } from '../router/certs.js'
import { acmeProtocol, type AcmeProtocol } from './messages.js'
import type { EventRecorder } from '../../src/events/event-kinds.js'

export interface AcmeActorInit {
  /** The directory used when a request names none (`--acme-directory`). */
  directory: string
  /** Contact of the cluster's account (`--acme-email`). */
  email: string | null
  /** This host's router's address and ACME port, where `acme.check` probes it. */
  proxyAddress: string
  httpPort: number
  /** How often renewals are looked for (ms). */
  renewCheckMs: number
  /** How long a challenge waits for every alive router to answer it before the order goes on anyway (ms). */
  presentTimeoutMs?: number
}

export interface AcmeActorComponents {
  /** The cluster's key sealing private keys (account and certificates) in gossiped rows. */
  certKey: Buffer
  /** The host's event stream: certificates issued and renewals that failed. */
  events: EventRecorder
  now?: () => number
}

const PRESENT_TIMEOUT_MS = 15_000
const PRESENT_POLL_MS = 200

/** The ACME client, loaded on the first order: it brings node:https and node:tls (~1 MB of heap), which an agent that orders no certificate never needs. */
const acmeOrder = async (): Promise<typeof import('../../src/acme/acme-order.js')> => await import('../../src/acme/acme-order.js')

/**
 * `/agent/acme`: certificates from an ACME directory (HTTP-01). It keeps the cluster's account
 * (one `acme` row per directory, key sealed), publishes challenges as `acme` rows for every
 * router to answer, stores issued certificates as `certs` rows (source `acme`) and renews them
 * when this host is their renewer. An order holds this actor's mailbox while it runs (seconds);
 * nothing it waits for goes through this mailbox. Crash policy: restart (its state is the
 * replicated rows; only the retry backoffs are lost).
 */
export function acmeActor (init: AcmeActorInit, components: AcmeActorComponents): ActorDefinition<AcmeProtocol> {
  return defineActor({
    protocol: acmeProtocol,
    policy: policies.restart({ backoff: { initialMs: 500, maxMs: 10_000, factor: 2 }, maxRestarts: 10, withinMs: 60_000, onExhausted: 'escalate' }),
    create (ctx) {
      const self = ctx.system.hostId
      const now = components.now ?? Date.now
      const membership = ref<MembershipProtocol>(self, '/agent/membership')
      const failures = new Map<string, { count: number, retryAt: number }>()
      const local = { address: probeAddress(init.proxyAddress), port: init.httpPort }

      const rowsOf = async (table: 'certs' | 'acme'): Promise<Array<{ key: string, owner: string, ownerDead: boolean, deleted: boolean, data: Record<string, unknown> | null }>> =>
        (await ctx.system.ask(membership, { type: 'membership.state', table }, { timeoutMs: 5_000 })).rows
      const write = async (table: 'certs' | 'acme', key: string, data: Record<string, unknown>): Promise<void> => {
        await ctx.system.ask(membership, { type: 'membership.write', table, key, data }, { timeoutMs: 5_000 })
      }
      const members = async (): Promise<Array<{ hostId: string, state: string }>> =>
        (await ctx.system.ask(membership, { type: 'membership.list' }, { timeoutMs: 5_000 })).members
      const alivePeers = async (): Promise<string[]> => (await members()).filter(m => m.state === 'alive').map(m => m.hostId)

      /** The cluster's account key for `directory`, made (and shared sealed) on first use. */
      const accountKeyFor = async (directory: string): Promise<string> => {
        const key = accountKey(directory)
        const row = (await rowsOf('acme')).find(r => r.key === key && !r.deleted && r.data?.kind === 'account')
        if (row !== undefined) return openKey(components.certKey, (row.data as AcmeAccountRowData).keySealed)
        const pem = await (await acmeOrder()).newAcmeKey()
        const data: AcmeAccountRowData = { kind: 'account', directory, keySealed: sealKey(components.certKey, pem), email: init.email, updatedAt: now() }
        await write('acme', key, data)
        ctx.log.info({ directory }, 'ACME: created the cluster\'s account key')
        return pem
      }

      /** Publishes the challenge and waits (bounded) until this and every other alive router answers it. */
      const present = async (c: PresentedChallenge): Promise<void> => {
        const data: AcmeChallengeRowData = { kind: 'challenge', token: c.token, keyAuthorization: c.keyAuthorization, hostname: c.hostname, expiresAt: now() + CHALLENGE_TTL_MS }
        await write('acme', challengeKey(c.token), data)
        const deadline = Date.now() + (init.presentTimeoutMs ?? PRESENT_TIMEOUT_MS)
        let waiting = new Set(await alivePeers())
        while (waiting.size > 0) {
          const answered = await Promise.all([...waiting].map(async host => {
            if (host === self) return await probeChallenge(local, c)
            const reply = await ctx.system.ask(ref<AcmeProtocol>(host, ctx.path), { type: 'acme.check', ...c }, { timeoutMs: 3_000, from: ctx.path }).catch(() => ({ answered: false }))
            return reply.answered
          }))
          waiting = new Set([...waiting].filter((_, i) => answered[i] !== true))
          if (waiting.size === 0 || Date.now() > deadline) break
          await new Promise(resolve => setTimeout(resolve, PRESENT_POLL_MS))
        }
        if (waiting.size > 0) ctx.log.warn({ hostname: c.hostname, notAnswering: [...waiting].map(h => h.slice(0, 12)) }, 'ACME: some routers do not answer the challenge yet; asking for validation anyway')
      }

      const withdraw = async (c: PresentedChallenge): Promise<void> => {
        await ctx.system.ask(membership, { type: 'membership.delete', table: 'acme', key: challengeKey(c.token) }, { timeoutMs: 5_000 })
          .catch((err: unknown) => { ctx.log.warn({ err, token: c.token }, 'ACME: could not delete a challenge row (it expires)') })
      }

      const issue = async (hostnameIn: string, app: string | null, directoryIn: string | undefined): Promise<CertsAddReply> => {
        const hostname = normalizeHostname(hostnameIn)
        if (!isCertHostname(hostname)) throw new AcmeError(`not a hostname: ${JSON.stringify(hostnameIn)}`)
        if (hostname.startsWith('*.')) throw new AcmeError(`${hostname}: wildcard certificates need the dns-01 challenge, which roost does not answer (http-01 only)`, { hostname })
        const directory = directoryIn ?? init.directory
        const accountKeyPem = await accountKeyFor(directory)
        const issued: IssuedCertificate = await (await acmeOrder()).orderCertificate({ directory, accountKeyPem, email: init.email, hostname }, { logger: ctx.log, present, withdraw })
        const at = now()
        const data: CertRowData = { hostname, app, certPem: issued.certPem, keySealed: sealKey(components.certKey, issued.keyPem), notAfter: issued.notAfter, source: 'acme', updatedAt: at, acmeDirectory: directory }
        const why = dataError('certs', data)
        if (why !== undefined) throw new AcmeError(`the issued certificate does not fit a certs row: ${why}`, { hostname })
        const replaced = (await rowsOf('certs')).some(r => r.key === hostname && !r.deleted)
        await write('certs', hostname, data)
        failures.delete(hostname)
        ctx.log.info({ hostname, directory, notAfter: new Date(issued.notAfter).toISOString() }, 'ACME: certificate issued')
        components.events.record('certificate', `certificate for ${hostname} ${replaced ? 'renewed' : 'issued'} by ACME, valid until ${new Date(issued.notAfter).toISOString()}`, { hostname, app, directory, notAfter: issued.notAfter, renewed: replaced })
        return { cert: certView(data, at), replaced }
      }

      const renew = async (): Promise<void> => {
        const t = now()
        const retryAt = new Map([...failures].map(([h, f]) => [h, f.retryAt]))
        const due = dueRenewals(await rowsOf('certs'), { self, alive: renewalCandidates(await members()), now: t, retryAt })
        for (const d of due) {
          ctx.log.info({ hostname: d.hostname, notAfter: new Date(d.notAfter).toISOString() }, 'ACME: renewing')
          try {
            await issue(d.hostname, d.app, d.directory ?? undefined)
          } catch (err) {
            const count = (failures.get(d.hostname)?.count ?? 0) + 1
            const delay = retryDelay(count, Math.min(init.renewCheckMs, 60_000))
            failures.set(d.hostname, { count, retryAt: now() + delay })
            ctx.log.error({ hostname: d.hostname, failures: count, retryInMs: delay, err: (err as Error).message }, 'ACME: certificate renewal failed')
            components.events.record('certificate', `renewing the certificate for ${d.hostname} failed (${count} in a row; next try in ${Math.round(delay / 1000)} s): ${(err as Error).message}`, { hostname: d.hostname, failed: true, failures: count, retryInMs: delay })
          }
        }
      }

      /** Challenge rows outlive an order only when its host died mid-way: whoever sees them expired deletes them. */
      const sweepChallenges = async (): Promise<void> => {
        const t = now()
        for (const r of await rowsOf('acme')) {
          if (r.deleted || r.data?.kind !== 'challenge' || (r.data as AcmeChallengeRowData).expiresAt > t) continue
          if (r.owner !== self && !r.ownerDead) continue
          await ctx.system.ask(membership, { type: 'membership.delete', table: 'acme', key: r.key }, { timeoutMs: 5_000 })
        }
      }

      // Ticks queue up behind an order holding the mailbox: one check per interval is enough.
      let lastTick = 0
      const timer = setInterval(() => { ctx.tell({ type: 'acme.tick' }) }, init.renewCheckMs)
      timer.unref()

      return {
        handlers: {
          'acme.issue': async (msg) => await issue(msg.hostname, msg.app ?? null, msg.directory),
          'acme.check': async (msg) => ({ answered: await probeChallenge(local, msg) }),
          'acme.tick': async () => {
            if (Date.now() - lastTick < init.renewCheckMs / 2) return
            lastTick = Date.now()
            try {
              await renew()
              await sweepChallenges()
            } catch (err) {
              ctx.log.warn({ err }, 'ACME: renewal check failed; trying again at the next tick')
            }
          }
        },
        stop () { clearInterval(timer) }
      }
    }
  })
}
