import test from 'ava'
import { isCI } from '../../src/cli/ci-env.js'

test('any truthy CI is CI; unset, empty, 0, false, no and off are not', t => {
  for (const v of ['true', '1', 'yes', 'TRUE', 'github-actions']) t.true(isCI({ CI: v }), v)
  for (const v of [undefined, '', '0', 'false', 'no', 'off', 'False', ' 0 ']) t.false(isCI({ CI: v }), String(v))
})
