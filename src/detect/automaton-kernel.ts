/**
 * The keyword automaton's inner loop as a small WebAssembly function. The loop is one table load per byte
 * whose address depends on the previous load; V8's JavaScript for it spends more on bounds checks and tagging
 * than on the loads; in WebAssembly the same four interleaved walks took less than half the time in a CPU
 * profile of `warden scrub` (docs/benchmarks.md). The module is emitted here from the instruction list below,
 * so there is no build step and no binary in the repository.
 *
 * Memory, owned by the caller (see AutomatonMemory): bytes 0-255 map a byte to its class times 4; the table
 * follows, one row of `classes` Int32 entries per state, each the next state's row offset in bytes (bitwise
 * negated when that state ends a keyword); then the text and four hit regions.
 *
 * walk(table, a0, q, tail, hits, stride, r0, r1, r2, r3): walks parts [a0, a0+q), [a0+q, a0+2q),
 * [a0+2q, a0+3q) side by side from rows r0-r2, and part [a0+3q, a0+4q+tail) from r3. Part k records each
 * hit as (row, address) at hits + k*stride onwards; the four hit ends and r3's last row are stored as five
 * Int32 from hits-32.
 */

const I32 = 0x7f;
const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  void: 0x40,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i32Load8U: 0x2d,
  i32Store: 0x36,
  i32Const: 0x41,
  i32LtS: 0x48,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Mul: 0x6c,
  i32Xor: 0x73,
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const name = (s: string) => [...uleb(s.length), ...Buffer.from(s, 'latin1')];
const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
const get = (local: number) => [op.localGet, local];
const set = (local: number) => [op.localSet, local];
const int = (n: number) => [op.i32Const, ...sleb(n)];
/** Memory access: alignment 2^align, constant offset. */
const mem = (code: number, align: number, offset = 0) => [code, align, ...uleb(offset)];

// Parameters, then locals.
const TABLE = 0;
const A = [1]; // a0; a1-a3 are locals
const Q = 2;
const TAIL = 3;
const HITS = 4;
const STRIDE = 5;
const R = [6, 7, 8, 9];
const H = [10, 11, 12, 13];
A.push(14, 15, 16);
const END = 17;

/** One step of walk k: the next row; on a keyword's end, record it. */
function step(k: number): number[] {
  return [
    ...get(TABLE),
    ...get(R[k]!),
    op.i32Add,
    ...get(A[k]!),
    ...mem(op.i32Load8U, 0),
    ...mem(op.i32Load8U, 0), // the byte's class times 4, from the map at address 0
    op.i32Add,
    ...mem(op.i32Load, 2),
    op.localTee,
    R[k]!,
    ...int(0),
    op.i32LtS,
    op.if,
    op.void,
    ...get(R[k]!),
    ...int(-1),
    op.i32Xor,
    ...set(R[k]!),
    ...get(H[k]!),
    ...get(R[k]!),
    ...mem(op.i32Store, 2),
    ...get(H[k]!),
    ...get(A[k]!),
    ...mem(op.i32Store, 2, 4),
    ...get(H[k]!),
    ...int(8),
    op.i32Add,
    ...set(H[k]!),
    op.end,
    ...get(A[k]!),
    ...int(1),
    op.i32Add,
    ...set(A[k]!),
  ];
}

/** `while (a < end) body` */
function whileBelow(a: number, body: number[]): number[] {
  return [op.block, op.void, op.loop, op.void, ...get(a), ...get(END), op.i32GeU, op.brIf, 1, ...body, op.br, 0, op.end, op.end];
}

function walkBody(): number[] {
  const body: number[] = [];
  for (let k = 1; k < 4; k++) body.push(...get(A[k - 1]!), ...get(Q), op.i32Add, ...set(A[k]!));
  for (let k = 0; k < 4; k++) body.push(...get(HITS), ...get(STRIDE), ...int(k), op.i32Mul, op.i32Add, ...set(H[k]!));
  body.push(...get(A[1]!), ...set(END));
  body.push(...whileBelow(A[0]!, [...step(0), ...step(1), ...step(2), ...step(3)]));
  // The last part, advanced by q in the loop above, goes on for its tail.
  body.push(...get(A[3]!), ...get(TAIL), op.i32Add, ...set(END));
  body.push(...whileBelow(A[3]!, step(3)));
  // The results, at hits-32 onwards: the four hit ends, then r3's last row.
  for (let k = 0; k < 4; k++) body.push(...get(HITS), ...int(-32), op.i32Add, ...get(H[k]!), ...mem(op.i32Store, 2, 4 * k));
  body.push(...get(HITS), ...int(-32), op.i32Add, ...get(R[3]!), ...mem(op.i32Store, 2, 16));
  return body;
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const code = [...walkBody(), op.end];
  const locals = [1, END - H[0]! + 1, I32];
  const fn = [...locals, ...code];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 10, ...Array<number>(10).fill(I32), 0]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 1]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('walk'), 0x00, 0]),
    ...section(10, [1, ...uleb(fn.length), ...fn]),
  ]);
}

let compiled: WebAssembly.Module | undefined;

export type WalkFn = (table: number, a0: number, q: number, tail: number, hits: number, stride: number, r0: number, r1: number, r2: number, r3: number) => void;

/** The walk function over `memory` (compiled once per process, instantiated per automaton). */
export function instantiateWalk(memory: WebAssembly.Memory): WalkFn {
  compiled ??= new WebAssembly.Module(moduleBytes());
  const instance = new WebAssembly.Instance(compiled, { env: { memory } });
  return instance.exports.walk as WalkFn;
}
