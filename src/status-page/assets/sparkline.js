import { html } from '/status/vendor/htm-preact.js'

/** Requests per second between successive samples ({ at, requests }); a counter that went back (restart) counts as 0. */
export function rates (samples) {
  const out = []
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].at - samples[i - 1].at) / 1000
    const dn = samples[i].requests - samples[i - 1].requests
    out.push(dt > 0 && dn > 0 ? dn / dt : 0)
  }
  return out
}

/** An SVG line of the last values, scaled to the largest. */
export function Sparkline ({ values, width = 160, height = 28 }) {
  if (values.length < 2) return html`<svg class="spark" width=${width} height=${height}></svg>`
  const max = Math.max(1, ...values)
  const step = width / (values.length - 1)
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(' ')
  return html`<svg class="spark" width=${width} height=${height} viewBox="0 0 ${width} ${height}" role="img" aria-label="request rate">
    <polyline points=${points} fill="none" stroke="currentColor" stroke-width="1.5" />
  </svg>`
}
