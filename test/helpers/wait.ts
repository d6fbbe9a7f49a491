/** Polling for tests: what a real server does next is seen when it happens, not after a fixed sleep. */

/** Polls `check` every `stepMs` until it holds or `ms` have passed (then once more); whether it held. */
export async function waitUntil(check: () => boolean | Promise<boolean>, ms: number, stepMs = 10): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return check();
}

/** Polls `probe` until it gives a value (not undefined or false) and returns it; throws naming `what` after `ms`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000, stepMs = 10): Promise<T> {
  let value: T | undefined | false;
  if (await waitUntil(async () => (value = await probe()) !== undefined && value !== false, ms, stepMs)) return value as T;
  throw new Error(`not within ${ms} ms: ${what}`);
}
