/**
 * A worker thread of a parallel scrub: builds the same scrubber as the main thread from plain data, then
 * scrubs each batch it is sent, starting from the private-key block state the message names.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Detector } from '../detect/index.js';
import { emptyStats } from './scrubber.js';
import { createScrubber, scrubBatch } from './stream.js';
import { WORKER_READY, type BatchReply, type BatchRequest, type WorkerSetup } from './parallel.js';

const setup = workerData as WorkerSetup;
const scrubber = createScrubber({
  detector: new Detector(setup.detector.specs, setup.detector.options),
  format: setup.format,
  mask: setup.mask,
  keepLines: setup.keepLines,
  ...(setup.fingerprintKey ? { fingerprintKey: Buffer.from(setup.fingerprintKey) } : {}),
});

parentPort!.on('message', (request: BatchRequest) => {
  try {
    scrubber.stats = emptyStats();
    scrubber.openBlockRule = request.openBlockBefore;
    const output = scrubBatch(scrubber, request.input);
    const reply: BatchReply = { id: request.id, input: request.input, output, stats: scrubber.stats, openBlockAfter: scrubber.openBlockRule };
    parentPort!.postMessage(reply, [request.input.buffer as ArrayBuffer, ...(output ? [output.buffer as ArrayBuffer] : [])]);
  } catch (err) {
    parentPort!.postMessage({ id: request.id, error: (err as Error).message });
  }
});
parentPort!.postMessage(WORKER_READY);
