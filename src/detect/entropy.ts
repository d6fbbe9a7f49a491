/** Counts by character code below 256 (one reused table: entropy runs on every match, and a Map per call was a twentieth of a scrub's CPU profile). */
const counts = new Uint32Array(256);

/** n·log2(n) for the counts most characters have in a secret, so a call takes one logarithm, not one per character. */
const N_LOG2_N = Float64Array.from({ length: 256 }, (_, n) => (n < 2 ? 0 : n * Math.log2(n)));

/**
 * Shannon entropy in bits per character: the sum of -p·log2(p) over characters, p = n/length, computed
 * as log2(length) - Σ n·log2(n) / length.
 */
export function shannonEntropy(text: string): number {
  const length = text.length;
  if (length === 0) return 0;
  let wide: Map<number, number> | undefined;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 256) counts[c]!++;
    else (wide ??= new Map()).set(c, (wide.get(c) ?? 0) + 1);
  }
  let sum = 0;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 256 && counts[c] !== 0) {
      sum += nLog2N(counts[c]!);
      counts[c] = 0;
    }
  }
  if (wide) for (const n of wide.values()) sum += nLog2N(n);
  return Math.log2(length) - sum / length;
}

function nLog2N(n: number): number {
  return n < N_LOG2_N.length ? N_LOG2_N[n]! : n * Math.log2(n);
}
