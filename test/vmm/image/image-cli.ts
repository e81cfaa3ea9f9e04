// Runs `roost image …` through registerImageCommand alone (tests spawn it: stdout, stderr and
// the exit code are what a user sees).
import { Command } from 'commander'
import { registerImageCommand } from '../../../src/cli/commands/image.js'

const program = new Command('roost')
registerImageCommand(program)
await program.parseAsync(process.argv)
