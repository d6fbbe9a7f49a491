/** Entry of one `warden gateway --workers N` process; cluster.ts starts and supervises it. */
import cluster from 'node:cluster';
import { runGatewayWorker } from './cluster.js';

process.exitCode = await runGatewayWorker(process.argv[2]!, process.argv[3] === 'watch');
// The channel to the primary is all that keeps this process alive now. Disconnecting through the
// cluster worker marks the exit as intended, so it keeps its exit code (a bare disconnect exits 0).
cluster.worker?.disconnect();
