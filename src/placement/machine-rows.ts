/**
 * Machine rows across generations. A machine keeps its id for life; each re-creation elsewhere
 * (failover, evacuation) bumps its generation and is a new row, keyed `<id>` for generation 1 and
 * `<id>.g<gen>` after, written by the host that runs that copy. Rows of older generations are
 * stale: readers take the highest generation of each id, and a host holding a stale copy
 * destroys it instead of serving it.
 */

/** A machine row as read from the replica. */
export interface MachineRowLike {
  key: string
  owner: string
  deleted: boolean
  ownerDead: boolean
  data: Record<string, unknown> | null
}

export const FIRST_GENERATION = 1

/** The replica key of a machine's row of one generation. */
export function machineRowKey (id: string, generation: number): string {
  return generation <= FIRST_GENERATION ? id : `${id}.g${generation}`
}

/** A row's generation (rows written before generations existed are generation 1). */
export function generationOf (data: Record<string, unknown>): number {
  const g = data.generation
  return typeof g === 'number' && Number.isInteger(g) && g >= FIRST_GENERATION ? g : FIRST_GENERATION
}

/** The machine id a row is about (its `id`; the key without a generation suffix otherwise). */
export function machineIdOf (row: Pick<MachineRowLike, 'key' | 'data'>): string {
  const id = row.data?.id
  return typeof id === 'string' ? id : row.key.replace(/\.g\d+$/, '')
}

/**
 * The live rows that are the current generation of their machine: one per machine id, the
 * highest generation (on a tie, which needs two hosts to have raced, the lower owner id, so every
 * reader picks the same). Deleted rows and rows without data are skipped; a tombstone of a
 * higher generation still makes older rows stale (the machine was destroyed at that generation).
 */
export function currentMachineRows<R extends MachineRowLike> (rows: Iterable<R>): R[] {
  const best = new Map<string, { row: R, gen: number }>()
  const deletedGen = new Map<string, number>()
  for (const row of rows) {
    const id = machineIdOf(row)
    if (row.deleted || row.data === null) {
      const g = /\.g(\d+)$/.exec(row.key)
      const gen = g === null ? FIRST_GENERATION : Number(g[1])
      deletedGen.set(id, Math.max(deletedGen.get(id) ?? 0, gen))
      continue
    }
    const gen = generationOf(row.data)
    const cur = best.get(id)
    if (cur === undefined || gen > cur.gen || (gen === cur.gen && row.owner < cur.row.owner)) best.set(id, { row, gen })
  }
  const out: R[] = []
  for (const [id, { row, gen }] of best) if ((deletedGen.get(id) ?? 0) <= gen) out.push(row)
  return out
}

/**
 * The rows routers send traffic to: the current generation, except while it is not started yet
 * and an older copy still is (an evacuation starts the new copy before it destroys the old one).
 */
export function servingMachineRows<R extends MachineRowLike> (rows: readonly R[]): R[] {
  const current = currentMachineRows(rows)
  const startedOlder = new Map<string, R>()
  for (const row of rows) {
    if (row.deleted || row.data === null || row.data.state !== 'started') continue
    const id = machineIdOf(row)
    const prev = startedOlder.get(id)
    if (prev === undefined || generationOf(row.data) > generationOf(prev.data as Record<string, unknown>)) startedOlder.set(id, row)
  }
  return current.map(r => {
    if (r.data?.state === 'started') return r
    const older = startedOlder.get(machineIdOf(r))
    return older !== undefined && generationOf(older.data as Record<string, unknown>) < generationOf(r.data as Record<string, unknown>) ? older : r
  })
}
