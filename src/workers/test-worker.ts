/** A worker for the pool's own tests: multiplies by the setup's factor, fails on request, or keeps its thread busy a while. */
import { answerRequests } from './index.js';

export interface TestRequest {
  n: number;
  /** `throw`: the request fails and the worker goes on; `exit`: the worker ends. */
  fail?: 'throw' | 'exit';
  /** Milliseconds to hold the thread before answering. */
  busyMs?: number;
}

answerRequests<{ factor: number }, TestRequest, number>(({ factor }) => (request) => {
  if (request.fail === 'throw') throw new Error(`refused ${request.n}`);
  if (request.fail === 'exit') process.exit(7);
  const until = Date.now() + (request.busyMs ?? 0);
  while (Date.now() < until);
  return request.n * factor;
});
