import type { Command } from 'commander'
import { createCli } from '../../src/cli/cli-tree.js'
import { BIN } from './cli.js'

/** A command line as the real CLI would take it, parsed without running anything. */
export interface DryParse {
  /** The subcommand chain, e.g. `['agent', 'start']`. */
  path: string[]
  /** The options as commander gives them to the action. */
  opts: Record<string, unknown>
  operands: string[]
}

/** Splits a shell command line into words: whitespace-separated, '…' and "…" quoting (no expansions). */
export function shellWords (line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g)].map(m => m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3] ?? '')
}

/**
 * Parses `argv` (without the leading `roost`) with the CLI's own commander tree: finds the
 * subcommand, parses its options (their own argument parsers and choices included) and checks
 * the count of arguments. Throws with the reason when the CLI would refuse the line. Runs no
 * action. `--help` only checks that the command exists.
 */
export function dryParse (argv: readonly string[]): DryParse {
  const program = createCli({ binPath: BIN, agent: { run: async () => { throw new Error('a dry parse runs no agent') } } })
  let cmd: Command = program
  const path: string[] = []
  let rest = [...argv]
  for (;;) {
    const next = rest[0]
    const sub = next === undefined ? undefined : cmd.commands.find(c => c.name() === next || c.aliases().includes(next))
    if (sub === undefined) break
    cmd = sub
    path.push(next as string)
    rest = rest.slice(1)
  }
  if (rest.includes('--help') || rest.includes('-h') || (path.length === 0 && (rest.includes('--version') || rest.includes('-V')))) return { path, opts: {}, operands: [] }
  if (cmd.commands.length > 0) throw new Error(`'roost ${path.join(' ')}' needs a subcommand (${cmd.commands.map(c => c.name()).join(', ')}), got '${rest[0] ?? ''}'`)
  cmd.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} })
  const { operands, unknown } = cmd.parseOptions(rest)
  if (unknown.length > 0) throw new Error(`'roost ${path.join(' ')}' does not take ${unknown.join(' ')}`)
  const args = cmd.registeredArguments
  const required = args.filter(a => a.required).length
  if (operands.length < required) throw new Error(`'roost ${path.join(' ')}' needs ${required} argument(s), got ${operands.length}`)
  if (!args.some(a => a.variadic) && operands.length > args.length) throw new Error(`'roost ${path.join(' ')}' takes ${args.length} argument(s), got ${operands.join(' ')}`)
  return { path, opts: cmd.opts(), operands }
}
