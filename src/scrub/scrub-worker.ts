/**
 * A worker thread of a parallel scrub: builds the same scrubber as the main thread from plain data, then
 * scrubs the batches of each request it is sent, starting from the private-key block state the request names.
 */
import { Detector } from '../detect/index.js';
import { answerRequests } from '../workers/index.js';
import { emptyStats } from './scrubber.js';
import { createScrubber, scrubBatches } from './stream.js';
import type { BatchReply, BatchRequest, WorkerSetup } from './parallel.js';

answerRequests<WorkerSetup, BatchRequest, BatchReply>(
  (setup) => {
    const scrubber = createScrubber({
      detector: new Detector(setup.detector.specs, setup.detector.options),
      format: setup.format,
      mask: setup.mask,
      keepLines: setup.keepLines,
      ...(setup.fingerprintKey ? { fingerprintKey: Buffer.from(setup.fingerprintKey) } : {}),
    });
    return (request) => {
      scrubber.stats = emptyStats();
      scrubber.openBlockRule = request.openBlockBefore;
      // The input's buffer is this request's own: the output may be written over it.
      const { output, clearOfBlocks } = scrubBatches(scrubber, request.input, request.batches, true);
      return { input: request.input, output, stats: scrubber.stats, openBlockAfter: scrubber.openBlockRule, clearOfBlocks };
    };
  },
  (reply) => [...new Set([reply.input.buffer as ArrayBuffer, ...(reply.output ? [reply.output.buffer as ArrayBuffer] : [])])],
);
