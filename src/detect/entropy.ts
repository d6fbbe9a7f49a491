/** Counts by character code below 256 (one reused table: entropy runs on every match, and a Map per call was a twentieth of a scrub's CPU profile). */
const counts = new Uint32Array(256);

/** Shannon entropy in bits per character. */
export function shannonEntropy(text: string): number {
  if (text.length === 0) return 0;
  let wide: Map<number, number> | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 256) counts[c]!++;
    else (wide ??= new Map()).set(c, (wide.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 256 && counts[c] !== 0) {
      bits += surprisal(counts[c]!, text.length);
      counts[c] = 0;
    }
  }
  if (wide) for (const n of wide.values()) bits += surprisal(n, text.length);
  return bits;
}

/**
 * A character's share of the entropy: it occurs `n` times in `length`. A function, not a closure adding to
 * the sum: V8 boxes a number a closure writes, once per call.
 */
function surprisal(n: number, length: number): number {
  const p = n / length;
  return -p * Math.log2(p);
}
