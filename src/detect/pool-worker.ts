/** A worker thread of a DetectionPool: builds the same detector from plain data, then answers each request. */
import { Detector } from './engine.js';
import { decodeFragment } from './files/fragments.js';
import { findInFragment, findInStructure } from './files/locate.js';
import type { DetectionReply, DetectionRequest, DetectionSetup } from './pool.js';
import { answerRequests } from '../workers/index.js';

answerRequests<DetectionSetup, DetectionRequest, DetectionReply>((setup) => {
  const detector = new Detector(setup.detector.specs, setup.detector.options);
  const key = Buffer.from(setup.fingerprintKey);
  return (request) => {
    switch (request.kind) {
      case 'fragment':
        return findInFragment(detector, decodeFragment(request.fragment), key);
      case 'structure':
        return findInStructure(detector, request.path, request.text, key, request.lineFindings, request.under);
      case 'scan':
        return request.texts.map((t) => detector.scan(t));
    }
  };
});
