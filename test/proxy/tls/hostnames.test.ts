import test from 'ava'
import { canonicalIp, isCertHostname, namesCover, normalizeHostname, wildcardOf } from '../../../src/proxy/tls/hostnames.js'

test('normalizeHostname lowercases and drops one trailing dot', t => {
  t.is(normalizeHostname('Demo.Example.COM.'), 'demo.example.com')
  t.is(normalizeHostname('a.b'), 'a.b')
})

test('isCertHostname: DNS names and *. wildcards, nothing else', t => {
  for (const ok of ['a', 'demo.example.com', '*.example.com', 'x-1.y2.z', '1.2.3.4', 'a'.repeat(63) + '.com']) t.true(isCertHostname(ok), ok)
  for (const bad of ['', 'A.com', '-a.com', 'a-.com', 'a..com', '.a.com', 'a.*.com', '*', '**.a.com', 'a_b.com', 'a b', 'a'.repeat(64) + '.com', `${'a.'.repeat(127)}ab`]) {
    t.false(isCertHostname(bad), bad)
  }
})

test('wildcardOf replaces the first label; a single label has none', t => {
  t.is(wildcardOf('a.example.com'), '*.example.com')
  t.is(wildcardOf('a.b'), '*.b')
  t.is(wildcardOf('localhost'), null)
})

test('namesCover: exact names, one-label wildcards, IPs; a wildcard hostname needs the same wildcard SAN', t => {
  const names = { dns: ['demo.example.com', '*.apps.example.com'], ip: ['127.0.0.1', '0:0:0:0:0:0:0:1'] }
  t.true(namesCover(names, 'demo.example.com'))
  t.true(namesCover(names, 'DEMO.example.com.'))
  t.true(namesCover(names, 'x.apps.example.com'))
  t.false(namesCover(names, 'x.y.apps.example.com'), 'a wildcard covers one label only')
  t.false(namesCover(names, 'apps.example.com'))
  t.true(namesCover(names, '*.apps.example.com'))
  t.false(namesCover({ dns: ['demo.example.com'], ip: [] }, '*.example.com'))
  t.false(namesCover(names, 'other.example.com'))
  t.true(namesCover(names, '127.0.0.1'))
  t.true(namesCover(names, '::1'))
  t.false(namesCover(names, '127.0.0.2'))
})

test('canonicalIp writes IPv6 the way OpenSSL prints SANs', t => {
  t.is(canonicalIp('::1'), '0:0:0:0:0:0:0:1')
  t.is(canonicalIp('2001:DB8::5'), '2001:db8:0:0:0:0:0:5')
  t.is(canonicalIp('2001:0db8:0000:0000:0000:0000:0000:0005'), '2001:db8:0:0:0:0:0:5')
  t.is(canonicalIp('::ffff:10.0.0.1'), '0:0:0:0:0:ffff:a00:1')
  t.is(canonicalIp('fe80::'), 'fe80:0:0:0:0:0:0:0')
  t.is(canonicalIp('10.0.0.1'), '10.0.0.1')
})
