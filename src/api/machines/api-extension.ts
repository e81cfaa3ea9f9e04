import type { IncomingMessage, ServerResponse } from 'node:http'

/** What an extension gets with each request it may answer. */
export interface ApiExtensionContext {
  /** The request target, parsed (origin-form only). */
  url: URL
  /** The request id the server answers with (`x-request-id`). */
  reqId: string
  /** Throws UnauthorizedError unless the request carries the API's bearer token. */
  requireToken: () => void
  /** True when the request carries the API's bearer token. */
  authorized: boolean
}

/**
 * More routes on the agent's API listener (metrics, events, the status page): each extension is
 * asked in turn, before the Machines routes, and answers the requests that are its own. A thrown
 * RoostError is answered like any API error (typed JSON body); an extension that wants the token
 * calls `requireToken()` itself, so some of its paths may be public.
 */
export interface ApiExtension {
  /** For logs and errors, e.g. `metrics`. */
  readonly name: string
  /** Answers and returns true when the request is its own; returns false without touching `res` otherwise. */
  handle: (req: IncomingMessage, res: ServerResponse, ctx: ApiExtensionContext) => boolean | Promise<boolean>
  /** Ends whatever long-lived answers it holds (server-sent event streams) when the server stops. */
  stop?: () => void | Promise<void>
}
