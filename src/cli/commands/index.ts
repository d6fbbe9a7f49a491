import type { Command } from 'commander';
import { registerDetect } from './detect.js';
import { registerKeys } from './keys.js';
import { registerScrub } from './scrub.js';
import { registerClassify } from './classify.js';
import { registerRetention } from './retention.js';
import { registerIncident } from './incident.js';
import { registerScan } from './scan.js';
import { registerServe } from './serve.js';
import { registerGateway } from './gateway.js';

/** Each capability registers its own subcommand; add a line here when adding one. */
export const COMMANDS: Array<(program: Command) => void> = [registerDetect, registerScrub, registerKeys, registerClassify, registerRetention, registerScan, registerServe, registerIncident, registerGateway];
