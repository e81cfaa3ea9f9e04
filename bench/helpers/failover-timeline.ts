import { succeeded } from './failover-load.js'
import type { TrialResult } from './failover-trial.js'

// The failover bench's picture, hand-written SVG: one panel per trial, requests/s per 100 ms
// bin (by when each request was sent) in grey, failed ones in red on the same scale, and
// vertical marks for the kill, the router host's suspicion, every survivor's dead mark, the
// replacement's checks passing (its row written on its host) and its first request.

const BIN_MS = 100
const FROM_MS = -2_000
const MIN_TO_MS = 5_000
const WIDTH = 900
const PANEL_H = 170
const TOP = 40
const LEFT = 56
const RIGHT = 16
const GAP = 46

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Bins of BIN_MS from `from` to `to` (ms from the kill): successes and failures per second. */
export function binRates (t: TrialResult, from: number, to: number): Array<{ at: number, ok: number, failed: number }> {
  const n = Math.ceil((to - from) / BIN_MS)
  const bins = Array.from({ length: n }, (_, i) => ({ at: from + i * BIN_MS, ok: 0, failed: 0 }))
  for (const r of t.records) {
    const i = Math.floor((r.start - t.killedAt - from) / BIN_MS)
    const bin = bins[i]
    if (bin === undefined) continue
    if (succeeded(r)) bin.ok += 1000 / BIN_MS
    else bin.failed += 1000 / BIN_MS
  }
  return bins
}

function panel (t: TrialResult, index: number, to: number, yMax: number): string {
  const top = TOP + index * (PANEL_H + GAP)
  const w = WIDTH - LEFT - RIGHT
  const x = (ms: number): number => LEFT + ((ms - FROM_MS) / (to - FROM_MS)) * w
  const y = (rate: number): number => top + PANEL_H - (rate / yMax) * PANEL_H
  const barW = (BIN_MS / (to - FROM_MS)) * w
  const out: string[] = []
  const f = t.figures
  out.push(`<text x="${LEFT}" y="${top - 8}" font-size="11">trial ${index + 1}: detect ${f.detectMs} ms, last failed request ${f.recoverMs} ms, ${f.failedRequests} of ${f.totalRequests} failed (${f.failedPct} %), replacement serving ${f.replacedMs} ms (on ${esc(f.replacementHost)}), boot ${f.bootMs} ms</text>`)
  out.push(`<rect x="${LEFT}" y="${top}" width="${w}" height="${PANEL_H}" fill="none" stroke="#999"/>`)
  for (let rate = 0; rate <= yMax; rate += yMax / 4) {
    out.push(`<line x1="${LEFT - 4}" x2="${LEFT}" y1="${y(rate)}" y2="${y(rate)}" stroke="#999"/><text x="${LEFT - 6}" y="${y(rate) + 4}" font-size="10" text-anchor="end">${Math.round(rate)}</text>`)
  }
  for (let ms = Math.ceil(FROM_MS / 1000) * 1000; ms <= to; ms += 1000) {
    out.push(`<line x1="${x(ms)}" x2="${x(ms)}" y1="${top + PANEL_H}" y2="${top + PANEL_H + 4}" stroke="#999"/><text x="${x(ms)}" y="${top + PANEL_H + 15}" font-size="10" text-anchor="middle">${ms / 1000} s</text>`)
  }
  for (const b of binRates(t, FROM_MS, to)) {
    if (b.ok > 0) out.push(`<rect x="${x(b.at).toFixed(1)}" y="${y(b.ok).toFixed(1)}" width="${(barW - 0.5).toFixed(1)}" height="${(top + PANEL_H - y(b.ok)).toFixed(1)}" fill="#9aa7b8"/>`)
    if (b.failed > 0) out.push(`<rect x="${x(b.at).toFixed(1)}" y="${y(b.ok + b.failed).toFixed(1)}" width="${(barW - 0.5).toFixed(1)}" height="${(y(b.ok) - y(b.ok + b.failed)).toFixed(1)}" fill="#d62728"/>`)
  }
  const mark = (ms: number, color: string, label: string, row: number, dash = ''): void => {
    if (ms < FROM_MS || ms > to) return
    out.push(`<line x1="${x(ms)}" x2="${x(ms)}" y1="${top}" y2="${top + PANEL_H}" stroke="${color}" stroke-width="1.5"${dash === '' ? '' : ` stroke-dasharray="${dash}"`}/>`)
    if (label !== '') out.push(`<text x="${x(ms) + 3}" y="${top + 12 + row * 12}" font-size="10" fill="${color}">${esc(label)}</text>`)
  }
  out.push(`<text x="12" y="${top + PANEL_H / 2}" font-size="10" transform="rotate(-90 12 ${top + PANEL_H / 2})" text-anchor="middle">req/s</text>`)
  mark(0, '#000', 'kill -9', 0)
  mark(f.routerSuspectMs, '#ff7f0e', 'router suspects', 1, '4 3')
  for (const s of t.survivors) if (s.deadAt !== null) mark(s.deadAt - t.killedAt, '#ff7f0e', '', 0, '1 2')
  mark(f.detectMs, '#ff7f0e', 'all dead', 2)
  mark(f.replacementPassingWrittenMs, '#1f77b4', 'its checks pass', 3, '1 2')
  mark(f.replacedMs, '#1f77b4', 'replacement serving', 4)
  return out.join('\n')
}

/** The SVG document for these trials (each on its own panel, one time scale). */
export function timelineSvg (trials: TrialResult[], title: string, subtitle: string): string {
  const to = Math.max(MIN_TO_MS, ...trials.map(t => Math.ceil((t.figures.replacedMs + 1_500) / 1000) * 1000))
  const peak = Math.max(1, ...trials.flatMap(t => binRates(t, FROM_MS, to).map(b => b.ok + b.failed)))
  // Headroom above the bars for the marks' labels.
  const yMax = Math.ceil((peak * 1.6) / 100) * 100
  const height = TOP + 24 + trials.length * (PANEL_H + GAP) + 24
  const legend = 'requests/s per 100 ms by when sent: grey 2xx within 2 s, red failed (stacked); dotted orange: each survivor marks the host dead. Process driver, WireGuard, lan gossip.'
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    '<rect width="100%" height="100%" fill="#fff"/>',
    `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${LEFT}" y="34" font-size="11">${esc(subtitle)}</text>`,
    `<g transform="translate(0 24)">`,
    ...trials.map((t, i) => panel(t, i, to, yMax)),
    '</g>',
    `<text x="${LEFT}" y="${height - 8}" font-size="10" fill="#555">${esc(legend)}</text>`,
    '</svg>',
    ''
  ].join('\n')
}
