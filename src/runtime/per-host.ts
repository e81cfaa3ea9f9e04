/** Hosts a per-host table keeps before it starts afresh (a bound against made-up host ids). */
export const MAX_PER_HOST = 10_000

/** `table`'s entry for `key`, made by `make` the first time; a table past {@link MAX_PER_HOST} entries is emptied first. */
export function perHost<V> (table: Map<string, V>, key: string, make: () => V): V {
  let v = table.get(key)
  if (v === undefined) {
    if (table.size > MAX_PER_HOST) table.clear()
    v = make()
    table.set(key, v)
  }
  return v
}
