import { html } from '/status/vendor/htm-preact.js'
import { ago, rtt, short } from './format.js'

// RTT and path mean something only for hosts that still answer probes.
const LIVE = new Set(['alive', 'suspect'])

const Machine = ({ m }) => html`
  <li class="machine" data-machine=${m.id} data-state=${m.state}>
    <span class=${`pill state-${m.state}`}>${m.state}</span>
    <span class=${`pill health-${m.health || 'unknown'}`}>${m.health || '-'}</span>
    <code>${m.id}</code> <span class="muted">${m.app}${m.name ? ` · ${m.name}` : ''}${m.cordoned ? ' · cordoned' : ''}${m.stale ? ' · last known' : ''}</span>
  </li>`

/** Hosts as the local replica sees them, each with its machines. */
export function HostsView ({ hosts, now }) {
  return html`
    <section>
      <h2>Hosts <span class="muted">${hosts.length}</span></h2>
      <table class="hosts">
        <thead><tr><th>Name</th><th>State</th><th>Region</th><th>RTT</th><th>Path</th><th>Version</th><th>Since</th><th>Machines</th></tr></thead>
        <tbody>
          ${hosts.map(h => html`
            <tr key=${h.hostId} data-host=${h.name} data-state=${h.state} class=${`row-${h.state}`}>
              <td><strong>${h.name || short(h.hostId)}</strong>${h.self ? html` <span class="muted">(this host)</span>` : ''}<div class="muted mono">${short(h.hostId)}</div></td>
              <td><span class=${`pill state-${h.state}`}>${h.state}</span>${h.draining ? html` <span class="pill state-draining">draining</span>` : ''}</td>
              <td>${h.region || '-'}</td>
              <td class="num">${h.self || !LIVE.has(h.state) ? '-' : rtt(h.rttMs)}</td>
              <td>${h.self || !LIVE.has(h.state) ? '-' : h.path}</td>
              <td>${h.version || '-'}</td>
              <td>${ago(h.changedAt, now)}</td>
              <td>${h.machines.length === 0 ? html`<span class="muted">none</span>` : html`<ul class="machines">${h.machines.map(m => html`<${Machine} key=${m.id} m=${m} />`)}</ul>`}</td>
            </tr>`)}
        </tbody>
      </table>
    </section>`
}
