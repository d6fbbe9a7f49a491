/** Entry of one `warden gateway --workers N` process; cluster.ts starts and supervises it. */
import { runGatewayWorker } from './cluster.js';

process.exitCode = await runGatewayWorker(process.argv[2]!, process.argv[3] === 'watch');
// The channel to the primary is all that keeps this process alive now.
process.disconnect?.();
