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
    // The input's buffer is this batch's own: the output may be written over it.
    const { output, clearOfBlocks } = scrubBatch(scrubber, request.input, true);
    const reply: BatchReply = { id: request.id, input: request.input, output, stats: scrubber.stats, openBlockAfter: scrubber.openBlockRule, clearOfBlocks };
    const buffers = new Set([request.input.buffer as ArrayBuffer, ...(output ? [output.buffer as ArrayBuffer] : [])]);
    parentPort!.postMessage(reply, [...buffers]);
  } catch (err) {
    parentPort!.postMessage({ id: request.id, error: (err as Error).message });
  }
});
parentPort!.postMessage(WORKER_READY);
