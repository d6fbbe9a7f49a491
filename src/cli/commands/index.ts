import type { Command } from 'commander';
import { registerScrub } from './scrub.js';

/** Each capability registers its own subcommand; add a line here when adding one. */
export const COMMANDS: Array<(program: Command) => void> = [registerScrub];
