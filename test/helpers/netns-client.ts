// Raw TCP conversations for the router's lab tests, run inside a lab host's namespace (the test
// process cannot enter one): `node --import tsx netns-client.ts '<json Conversation[]>'`. All
// conversations run at once; what each received is printed as one JSON array on stdout.
import { connect, type Socket } from 'node:net'

/** One client connection: bytes to send in steps, then read until the server closes or `maxMs`. */
export interface Conversation {
  name: string
  host: string
  port: number
  /**
   * In order: wait until the received bytes contain `waitFor` (`count` times), until the
   * conversation named `afterClosed` has been closed by the server, or until `waitMs` passed;
   * then send `send` (latin1).
   */
  steps: Array<{ waitFor?: string, count?: number, afterClosed?: string, waitMs?: number, send?: string }>
  /** The whole conversation's bound; the connection is closed then and reported as not closed by the peer. */
  maxMs: number
}

export interface ConversationResult {
  name: string
  received: string
  closedByPeer: boolean
  error: string | null
  /** From connect to the end. */
  ms: number
}

function occurrences (text: string, part: string): number {
  let n = 0
  for (let i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + part.length)) n++
  return n
}

/** Resolved when a conversation's connection was closed by the server, by name. */
const closedByServer = new Map<string, { promise: Promise<void>, resolve: () => void }>()

function closing (name: string): { promise: Promise<void>, resolve: () => void } {
  let entry = closedByServer.get(name)
  if (entry === undefined) {
    let resolve = (): void => {}
    const promise = new Promise<void>(r => { resolve = r })
    entry = { promise, resolve }
    closedByServer.set(name, entry)
  }
  return entry
}

async function converse (c: Conversation): Promise<ConversationResult> {
  const started = Date.now()
  const chunks: Buffer[] = []
  let closed = false
  let error: string | null = null
  let wake: (() => void) | null = null
  const s: Socket = connect({ host: c.host, port: c.port })
  s.on('data', (b: Buffer) => { chunks.push(b); wake?.() })
  s.on('error', (err) => { error = err.message; wake?.() })
  s.on('close', () => { closed = true; closing(c.name).resolve(); wake?.() })
  const deadline = started + c.maxMs
  const until = async (done: () => boolean, endAt: number): Promise<void> => {
    while (!done() && !closed && Date.now() < endAt) {
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, Math.max(0, endAt - Date.now()))
        wake = () => { clearTimeout(t); resolve() }
      })
      wake = null
    }
  }
  const text = (): string => Buffer.concat(chunks).toString('latin1')
  await new Promise<void>(resolve => { s.once('connect', resolve); s.once('error', () => { resolve() }) })
  for (const step of c.steps) {
    if (closed || error !== null) break
    if (step.waitFor !== undefined) {
      const want = step.waitFor
      await until(() => occurrences(text(), want) >= (step.count ?? 1), deadline)
    }
    if (step.afterClosed !== undefined) {
      let other = false
      void closing(step.afterClosed).promise.then(() => { other = true; wake?.() })
      await until(() => other, deadline)
    }
    if (step.waitMs !== undefined) await until(() => false, Math.min(deadline, Date.now() + step.waitMs))
    if (step.send !== undefined && !closed) s.write(Buffer.from(step.send, 'latin1'))
  }
  await until(() => false, deadline)
  const closedByPeer = closed
  s.destroy()
  return { name: c.name, received: text(), closedByPeer, error, ms: Date.now() - started }
}

if (process.argv[2] !== undefined) {
  const conversations = JSON.parse(process.argv[2]) as Conversation[]
  const results = await Promise.all(conversations.map(converse))
  process.stdout.write(JSON.stringify(results) + '\n')
}
