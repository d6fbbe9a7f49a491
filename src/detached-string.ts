/**
 * A copy of `text` that does not keep the string it was cut from alive. V8 slices point into their parent:
 * a path, id or field name kept past its batch (in a finding, a cache) would otherwise hold the whole batch.
 */
export function detachedString(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}
