import test from 'ava'
import { createWaiters, type Waiter, type Waiters } from '../../src/proxy/waiters.js'

/** A request that, each time it is retried, goes ahead and is parked again as a new waiter (its dispatch still finds nothing it may use). */
function reparking (waiters: Waiters, app: string, counter: { retries: number }): Waiter {
  const w: Waiter = {
    app,
    deadline: Number.MAX_SAFE_INTEGER,
    retry: () => {
      // Bounded so that the loop this guards against fails the test instead of hanging it.
      if (++counter.retries > 1_000) throw new Error('wake is still retrying: it retries the waiters it parked itself')
      waiters.park(reparking(waiters, app, counter))
      return true
    },
    expire: () => {}
  }
  return w
}

test('a wake retries only the waiters parked when it began: one parked again by its own retry waits for the next wake', t => {
  const waiters = createWaiters()
  const counter = { retries: 0 }
  waiters.park(reparking(waiters, 'a', counter))
  waiters.park(reparking(waiters, 'a', counter))
  waiters.wake('a')
  t.is(counter.retries, 2)
  t.is(waiters.size(), 2, 'both parked again, once each')
  waiters.wakeAll()
  t.is(counter.retries, 4)
  t.is(waiters.size(), 2)
})

test('wake goes in order and stops at the first waiter that cannot go ahead; the rest keep their places', t => {
  const waiters = createWaiters()
  const seen: string[] = []
  const make = (name: string, goes: boolean): Waiter => ({ app: 'a', deadline: Number.MAX_SAFE_INTEGER, retry: () => { seen.push(name); return goes }, expire: () => {} })
  waiters.park(make('one', true))
  waiters.park(make('two', false))
  waiters.park(make('three', true))
  waiters.wake('a')
  t.deepEqual(seen, ['one', 'two'])
  t.is(waiters.size(), 2)
  waiters.wake('a')
  t.deepEqual(seen, ['one', 'two', 'two'])
})

test('a waiter whose retry removes it (its request closed) leaves the queue once; the sweeper expires what is past its deadline', t => {
  const waiters = createWaiters()
  const expired: string[] = []
  const closing: Waiter = { app: 'a', deadline: 0, retry: () => { waiters.remove(closing); return true }, expire: () => { expired.push('closing') } }
  const late: Waiter = { app: 'a', deadline: 10, retry: () => false, expire: () => { expired.push('late') } }
  waiters.park(closing)
  waiters.park(late)
  waiters.wake('a')
  t.is(waiters.size(), 1)
  waiters.sweep(20)
  t.deepEqual(expired, ['late'])
  t.is(waiters.size(), 0)
})
