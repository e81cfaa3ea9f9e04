import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'

// node --import=tsx bench/helpers/cpu-profile-top.ts [-n 10] a.cpuprofile [b.cpuprofile ...]
// Prints the top-N functions by self time over all the profiles given (merged), with their share
// of the busy time (idle samples left out). PROF_COLUMNS=1 adds the column (tsx code is one line).

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number, columnNumber: number }, hitCount?: number }
interface Profile { nodes: ProfileNode[], samples?: number[], timeDeltas?: number[], startTime: number, endTime: number }

const args = process.argv.slice(2)
let top = 10
if (args[0] === '-n') { top = Number(args[1]); args.splice(0, 2) }
const self = new Map<string, number>()
let total = 0
let idle = 0
for (const file of args) {
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const samples = p.samples ?? []
  const deltas = p.timeDeltas ?? []
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i] as number)
    if (node === undefined) continue
    // A sample's time is the delta to the next one.
    const us = deltas[i + 1] ?? 0
    const { functionName, url, lineNumber } = node.callFrame
    const key = `${functionName === '' ? '(anonymous)' : functionName} ${url === '' ? '' : `${basename(url)}:${lineNumber + 1}${process.env.PROF_COLUMNS === undefined ? '' : `:${node.callFrame.columnNumber}`}`}`.trim()
    if (functionName === '(idle)') { idle += us; continue }
    self.set(key, (self.get(key) ?? 0) + us)
    total += us
  }
}
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
process.stdout.write(`busy ${(total / 1000).toFixed(0)} ms (idle ${(idle / 1000).toFixed(0)} ms) over ${args.length} profile(s)\n`)
for (const [key, us] of rows) process.stdout.write(`${(100 * us / total).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}\n`)
