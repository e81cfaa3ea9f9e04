import test from 'ava'
import type { ApiExtension } from '../../../src/api/machines/api-extension.js'
import { TOKEN, startApi } from './fake-backend.js'

const extension: ApiExtension = {
  name: 'demo',
  handle: (_req, res, ctx) => {
    if (ctx.url.pathname === '/public') {
      res.end(`public ${String(ctx.authorized)}`)
      return true
    }
    if (ctx.url.pathname === '/private') {
      ctx.requireToken()
      res.end('private')
      return true
    }
    return false
  }
}

test('an extension answers its own paths, public or behind the token; the rest still needs the token', async t => {
  const { url } = await startApi(t, { extensions: [extension] })
  const auth = { authorization: `Bearer ${TOKEN}` }
  t.is(await (await fetch(`${url}/public`)).text(), 'public false')
  t.is(await (await fetch(`${url}/public`, { headers: auth })).text(), 'public true')
  const denied = await fetch(`${url}/private`)
  t.is(denied.status, 401)
  t.is((await denied.json() as { code: string }).code, 'ERR_UNAUTHORIZED')
  t.is(await (await fetch(`${url}/private`, { headers: auth })).text(), 'private')
  t.is((await fetch(`${url}/v1/health`)).status, 401)
  t.is((await fetch(`${url}/nope`)).status, 401)
  t.is((await fetch(`${url}/v1/health`, { headers: auth })).status, 200)
})
