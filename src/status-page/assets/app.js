import { html, render, useEffect, useRef, useState } from '/status/vendor/htm-preact.js'
import { AppsView } from './apps-view.js'
import { EventsView } from './events-view.js'
import { short } from './format.js'
import { HostsView } from './hosts-view.js'
import { rates } from './sparkline.js'
import { follow } from './sse.js'
import { forgetToken, keepToken, takeToken } from './token.js'

const SAMPLES = 61
const EVENTS = 200
const STREAM_NOTES = { connecting: 'connecting…', reconnecting: 'agent unreachable, reconnecting…', unauthorized: 'token refused' }

function TokenForm ({ onToken, refused }) {
  const input = useRef(null)
  const submit = (e) => {
    e.preventDefault()
    const v = input.current.value.trim()
    if (v) { keepToken(v); onToken(v) }
  }
  return html`
    <section class="token">
      <h2>${refused ? 'The agent refused this token' : 'An API token is needed'}</h2>
      <p>Open the address <code>roost status-page</code> prints, or paste the token (<code>&lt;data-dir&gt;/api.token</code>):</p>
      <form onSubmit=${submit}><input ref=${input} type="password" autocomplete="off" placeholder="token" /> <button>Show</button></form>
    </section>`
}

/** Keeps the last samples of each app's request count and turns them into rates. */
function useRates (snapshot) {
  const samples = useRef({})
  const [series, setSeries] = useState({})
  useEffect(() => {
    if (snapshot === null) return
    const next = {}
    for (const a of snapshot.apps) {
      const list = (samples.current[a.app] ?? []).concat({ at: snapshot.at, requests: a.requests }).slice(-SAMPLES)
      next[a.app] = list
    }
    samples.current = next
    setSeries(Object.fromEntries(Object.entries(next).map(([app, list]) => [app, rates(list)])))
  }, [snapshot])
  return series
}

function App () {
  const [token, setToken] = useState(takeToken)
  const [snapshot, setSnapshot] = useState(null)
  const [streamState, setStreamState] = useState('connecting')
  const [events, setEvents] = useState([])
  const [eventsState, setEventsState] = useState('connecting')
  const [now, setNow] = useState(Date.now())
  const series = useRates(snapshot)

  useEffect(() => {
    if (!token) return
    setStreamState('connecting')
    return follow('/v1/status/stream', token, (m) => {
      if (m.event === 'snapshot') setSnapshot(JSON.parse(m.data))
    }, (state) => {
      if (state === 'unauthorized') forgetToken()
      setStreamState(state)
    })
  }, [token])

  useEffect(() => {
    if (!token) return
    // A reconnect may replay what the agent still holds: seq tells what was seen.
    let last = 0
    return follow('/v1/events?follow=true', token, (m) => {
      const e = JSON.parse(m.data)
      if (typeof e.seq !== 'number' || e.seq <= last) return
      last = e.seq
      setEvents(list => [e, ...list].slice(0, EVENTS))
    }, setEventsState)
  }, [token])

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000)
    return () => clearInterval(t)
  }, [])

  if (!token || streamState === 'unauthorized') {
    return html`<${TokenForm} refused=${streamState === 'unauthorized'} onToken=${setToken} />`
  }
  const names = Object.fromEntries((snapshot?.hosts ?? []).map(h => [h.hostId, h.name || short(h.hostId)]))
  const counts = {}
  for (const h of snapshot?.hosts ?? []) counts[h.state] = (counts[h.state] ?? 0) + 1
  return html`
    <header>
      <h1>roost</h1>
      ${snapshot === null ? '' : html`<span class="muted">as ${snapshot.self.name || short(snapshot.self.hostId)} (${snapshot.self.region || 'no region'}) sees it</span>`}
      <span class="summary">${Object.entries(counts).map(([s, n]) => html`<span class=${`pill state-${s}`}>${n} ${s}</span> `)}</span>
      <span class=${`conn conn-${streamState}`} data-stream=${streamState}>${streamState === 'live' ? 'live' : STREAM_NOTES[streamState] ?? streamState}</span>
    </header>
    ${snapshot === null ? html`<p class="muted">waiting for the first snapshot…</p>` : html`
      <${HostsView} hosts=${snapshot.hosts} now=${now} />
      <${AppsView} apps=${snapshot.apps} rates=${series} />`}
    <${EventsView} events=${events} state=${eventsState} names=${names} />`
}

render(html`<${App} />`, document.getElementById('root'))
