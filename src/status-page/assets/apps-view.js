import { html } from '/status/vendor/htm-preact.js'
import { perSecond } from './format.js'
import { Sparkline } from './sparkline.js'

const route = (r) => `${r.port}→${r.internalPort} [${r.handlers.join(',') || 'tcp'}${r.forceHttps ? ',force_https' : ''}]`

/** Apps with their routes and the request rate through this host's router (last samples as a sparkline). */
export function AppsView ({ apps, rates }) {
  return html`
    <section>
      <h2>Apps <span class="muted">${apps.length}</span></h2>
      ${apps.length === 0 ? html`<p class="muted">no apps deployed</p>` : html`
      <table class="apps">
        <thead><tr><th>App</th><th>Hostnames</th><th>Routes</th><th>Machines</th><th>Requests</th><th>Req/s via this host</th><th></th></tr></thead>
        <tbody>
          ${apps.map(a => {
            const series = rates[a.app] ?? []
            const last = series.length === 0 ? 0 : series[series.length - 1]
            return html`
            <tr key=${a.app} data-app=${a.app}>
              <td><strong>${a.app}</strong></td>
              <td>${a.hostnames.length === 0 ? '-' : a.hostnames.map(h => html`<div class="mono">${h}</div>`)}</td>
              <td>${a.routes.length === 0 ? '-' : a.routes.map(r => html`<div class="mono">${route(r)}</div>`)}</td>
              <td class="num">${a.machines}</td>
              <td class="num">${a.requests}${a.errors > 0 ? html` <span class="bad">(${a.errors} errors)</span>` : ''}</td>
              <td class="num">${perSecond(last)}</td>
              <td class="spark-cell"><${Sparkline} values=${series} /></td>
            </tr>`
          })}
        </tbody>
      </table>`}
    </section>`
}
