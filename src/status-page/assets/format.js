export const short = (id) => id.slice(0, 12)

export function ago (ms, now = Date.now()) {
  if (!ms) return '-'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 120) return `${s}s ago`
  if (s < 7200) return `${Math.round(s / 60)}m ago`
  return `${Math.round(s / 3600)}h ago`
}

export const rtt = (ms) => ms === null || ms === undefined ? '-' : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`

export const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false })

export const perSecond = (v) => v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
