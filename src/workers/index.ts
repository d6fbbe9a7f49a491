/** warden/workers: the worker-thread pool every capability that runs the detection engine on several cores shares. */
export { WorkerPool, answerRequests, siblingWorker, type WorkerPoolOptions } from './pool.js';
