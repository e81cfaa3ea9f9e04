import test from 'ava'
import { jsonDepthWithin } from '../../../src/api/machines/json-depth.js'

const depthOf = (text: string, max: number): boolean => jsonDepthWithin(Buffer.from(text), max)

test('nesting is counted over arrays and objects together, up to the limit and one past it', t => {
  t.true(depthOf('[{"a":[1]}]', 3))
  t.false(depthOf('[{"a":[1]}]', 2))
  t.true(depthOf('1', 0))
  t.true(depthOf('{}', 1))
  t.false(depthOf('{}', 0))
})

test('brackets inside strings, escaped quotes included, do not count', t => {
  t.true(depthOf('{"a":"[[[[{{{{"}', 1))
  t.true(depthOf('{"a":"\\"[[[["}', 1))
  t.true(depthOf('["\\\\", "[["]', 1), 'an escaped backslash ends before the closing quote')
  t.false(depthOf('["\\\\", [["x"]]]', 2))
})

test('siblings do not add up: depth goes back down on each close', t => {
  t.true(depthOf('[' + '[],'.repeat(1000) + '[]]', 2))
})
