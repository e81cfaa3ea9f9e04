import test from 'ava'
import { ConfigError, InvalidRowError } from '../../src/errors/errors.js'
import { RejectionError } from '../../src/errors/roost-error.js'

test('rejections carry no stack trace (a flood of bad input pays for none); other errors keep theirs', t => {
  const rejection = new InvalidRowError('bad row')
  t.is(rejection.stack, 'InvalidRowError: bad row')
  t.true(rejection instanceof RejectionError)
  t.regex(new ConfigError('bad config').stack ?? '', /\n\s+at /)
  t.true(Error.stackTraceLimit > 0, 'the process-wide limit is restored')
})
