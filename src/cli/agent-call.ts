import type { Remote } from 'comlink'
import { connectControl } from '../api/control-client.js'
import { controlSocketPath, type ControlApi } from '../api/control-api.js'

/** One call on the local agent's control socket (`<data-dir>/control.sock`); the connection is closed after. */
export async function callAgent<T> (dataDir: string, fn: (api: Remote<ControlApi>) => Promise<T>): Promise<T> {
  const client = await connectControl(controlSocketPath(dataDir))
  try { return await client.call(fn) } finally { client.close() }
}
