/**
 * Stalls: a peer that accepted the connection and then missed a deadline. Such a peer may only be slow
 * (a loaded host, a loaded scanner), so the scanner retries the probe once with a longer deadline instead
 * of taking the silence as "not this service". The transports note a stall for whichever probe attempt is
 * running; the attempt is found through async context, so no probe has to pass anything along.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const attempt = new AsyncLocalStorage<{ stalled: boolean }>();

/** Runs one probe attempt and says whether any of its steps stalled. */
export async function watchStalls<T>(work: () => Promise<T>): Promise<{ value: T; stalled: boolean }> {
  const state = { stalled: false };
  const value = await attempt.run(state, work);
  return { value, stalled: state.stalled };
}

/** Called by a transport when a connected peer missed a deadline. */
export function noteStall(): void {
  const state = attempt.getStore();
  if (state) state.stalled = true;
}
