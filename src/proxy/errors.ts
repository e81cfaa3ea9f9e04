import { defineError } from '../errors/errors.js'

/** The proxy's data plane failed to do what the router asked (thread gone, listener refused). */
export const ProxyError = defineError('ProxyError', 'ERR_PROXY')
export type ProxyError = InstanceType<typeof ProxyError>
