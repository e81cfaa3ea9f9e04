import { Command } from 'commander'
import { ROOST_VERSION } from './config.js'

/** The `roost` program without its commands. */
export function rootCommand (): Command {
  return new Command('roost')
    .description('roost: self-hostable edge compute — one agent per server, microVMs, gossip, no central database')
    .version(ROOST_VERSION)
    .showHelpAfterError()
}
