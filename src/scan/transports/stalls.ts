/**
 * Stalls: a step of a probe that missed its deadline (connect, handshake or reply) on a port the scan
 * already found open. Such a peer may only be slow (a loaded host, a loaded scanner), so the scanner
 * retries the probe once with a longer deadline instead of taking the silence as "not this service". The
 * transports note a stall for whichever probe attempt is running; the attempt is found through async
 * context, so no probe has to pass anything along. Outside a probe attempt a stall is not recorded.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const attempt = new AsyncLocalStorage<{ stalled: boolean }>();

/** Runs one probe attempt and says whether any of its steps stalled. */
export async function watchStalls<T>(work: () => Promise<T>): Promise<{ value: T; stalled: boolean }> {
  const state = { stalled: false };
  const value = await attempt.run(state, work);
  return { value, stalled: state.stalled };
}

/** Called by a transport (or a probe using a client library) when a step missed its deadline. */
export function noteStall(): void {
  const state = attempt.getStore();
  if (state) state.stalled = true;
}
