import test from 'ava'
import { ActorCrashedError, AdmissionError, ConfigError, FrameTooLargeError, InvalidRowError, MalformedFrameError, UnsupportedVersionError } from '../../src/errors/errors.js'
import { errorFromWire, RejectionError } from '../../src/errors/roost-error.js'

test('rejections carry no stack trace (a flood of bad input pays for none); other errors keep theirs', t => {
  const rejection = new InvalidRowError('bad row')
  t.is(rejection.stack, 'InvalidRowError: bad row')
  t.true(rejection instanceof RejectionError)
  t.regex(new ConfigError('bad config').stack ?? '', /\n\s+at /)
  t.true(Error.stackTraceLimit > 0, 'the process-wide limit is restored')
})

test('errors about a peer\'s input are stackless too, and so is every error rebuilt from the wire', t => {
  for (const err of [new MalformedFrameError('bad frame'), new FrameTooLargeError('big'), new UnsupportedVersionError('v9'), new AdmissionError('no')]) {
    t.notRegex(err.stack ?? '', /\n\s+at /, err.name)
    t.is(err.stack, `${err.name}: ${err.message}`)
  }
  const rebuilt = errorFromWire({ code: 'ERR_ACTOR_CRASHED', message: 'remote crash' })
  t.true(rebuilt instanceof ActorCrashedError)
  t.notRegex(rebuilt.stack ?? '', /\n\s+at /)
  t.notRegex(errorFromWire({ code: 'ERR_SOMETHING_NEW', message: 'unknown code' }).stack ?? '', /\n\s+at /)
  t.regex(new ActorCrashedError('local crash').stack ?? '', /\n\s+at /, 'a crash raised here keeps its stack')
  t.true(Error.stackTraceLimit > 0, 'the process-wide limit is restored')
})
