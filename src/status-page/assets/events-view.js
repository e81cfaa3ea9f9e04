import { html } from '/status/vendor/htm-preact.js'
import { clock } from './format.js'

const NOTES = {
  connecting: 'connecting…',
  reconnecting: 'reconnecting…',
  unavailable: 'events unavailable (this agent does not serve /v1/events)',
  unauthorized: 'events: token refused'
}

/** The live event stream, newest first; `names` maps host ids to names. */
export function EventsView ({ events, state, names }) {
  return html`
    <section>
      <h2>Events ${state === 'live' ? html`<span class="pill state-alive">live</span>` : ''}</h2>
      ${state !== 'live' && NOTES[state] ? html`<p class="muted" data-events-state=${state}>${NOTES[state]}</p>` : ''}
      ${events.length === 0 ? (state === 'live' ? html`<p class="muted">no events yet</p>` : '') : html`
      <table class="events">
        <tbody>
          ${events.map(e => html`
            <tr key=${e.seq} data-kind=${e.kind}>
              <td class="mono muted">${clock(e.at)}</td>
              <td>${names[e.host] ?? e.host?.slice?.(0, 12) ?? ''}</td>
              <td><span class=${`pill kind-${e.kind.split('.')[0]} kind-${e.kind.replace('.', '-')}`}>${e.kind}</span></td>
              <td>${e.message}</td>
            </tr>`)}
        </tbody>
      </table>`}
    </section>`
}
