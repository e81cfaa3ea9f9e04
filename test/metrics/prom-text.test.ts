import test from 'ava'
import { parsePromText, sumOf } from '../helpers/prom-text.js'

test('the test helper parses sample lines with escaped labels and special values, and sums by labels', t => {
  const s = parsePromText('# HELP x y\n# TYPE x counter\nx{a="1",b="q\\"z"} 3\nx{a="2"} 4\ny +Inf\nz NaN\n')
  t.deepEqual(s[0], { name: 'x', labels: { a: '1', b: 'q"z' }, value: 3 })
  t.is(sumOf(s, 'x'), 7)
  t.is(sumOf(s, 'x', { a: '2' }), 4)
  t.is(s[2]?.value, Infinity)
  t.true(Number.isNaN(s[3]?.value))
  t.throws(() => parsePromText('not a line at all'))
})
