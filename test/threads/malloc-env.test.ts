import test from 'ava'
import { agentProcessEnv, hasAgentMallocEnv } from '../../src/threads/malloc-env.js'

test('agents get a fixed malloc mmap threshold unless the environment already sets one', t => {
  t.like(agentProcessEnv({ PATH: '/bin' }), { PATH: '/bin', MALLOC_MMAP_THRESHOLD_: '131072' })
  t.is(agentProcessEnv({ MALLOC_MMAP_THRESHOLD_: '65536' }).MALLOC_MMAP_THRESHOLD_, '65536')
  t.false(hasAgentMallocEnv({}))
  t.true(hasAgentMallocEnv(agentProcessEnv({})))
})
