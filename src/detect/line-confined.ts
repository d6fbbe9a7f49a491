/**
 * Whether a rule's pattern stays on one line: it can neither consume nor look at a line feed, and does
 * not depend on where the input starts (`^`). Such a rule finds the same matches in a line on its own
 * as in the whole text, so the engine runs it only over the lines that hold its keywords. Conservative:
 * a construct this reader does not know counts as leaving the line, and the rule runs over everything.
 */
export function isLineConfined(pattern: string, flags: string): boolean {
  if (flags.includes('s') || flags.includes('m') || flags.includes('u') || flags.includes('v')) return false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const lookahead = c === '(' && (pattern.startsWith('(?=', i) || pattern.startsWith('(?!', i)) ? oneCharacterLookaheadEnd(pattern, i) : -1;
    if (lookahead !== -1) {
      // Slices keep the line's own line feed, so a glance at the single next character sees what it would in the whole text.
      i = lookahead;
    } else if (c === '\\') {
      const escape = readEscape(pattern, i + 1);
      if (!escape || escape.matchesLineFeed) return false;
      i = escape.end - 1;
    } else if (c === '[') {
      const end = classEnd(pattern, i);
      if (end === -1 || classMatchesLineFeed(pattern.slice(i + 1, end)) !== false) return false;
      i = end;
    } else if (c === '^' || c === '\n') {
      return false;
    }
  }
  return true;
}

const LINE_FEED = 10;

/**
 * For a lookahead opening at `open` whose every alternative is one character (a literal, an escape,
 * a class) or `$`, the index of its closing parenthesis; otherwise -1.
 */
function oneCharacterLookaheadEnd(p: string, open: number): number {
  let atoms = 0;
  for (let i = open + 3; i < p.length; i++) {
    const c = p[i]!;
    if (c === ')' || c === '|') {
      if (atoms !== 1) return -1;
      if (c === ')') return i;
      atoms = 0;
    } else if (c === '\\') {
      const escape = readEscape(p, i + 1);
      if (!escape) return -1;
      i = escape.end - 1;
      atoms++;
    } else if (c === '[') {
      const end = classEnd(p, i);
      if (end === -1) return -1;
      i = end;
      atoms++;
    } else if ('(*+?{^'.includes(c)) {
      return -1;
    } else {
      atoms++;
    }
  }
  return -1;
}

interface Escape {
  /** Code point of a single character, or null for a class escape such as \d. */
  char: number | null;
  matchesLineFeed: boolean;
  end: number;
}

/** Reads the escape whose letter is at `at` (just after the backslash); null when not understood. */
function readEscape(p: string, at: number): Escape | null {
  const e = p[at];
  if (e === undefined) return null;
  const simple: Record<string, number> = { t: 9, r: 13, f: 12, v: 11, '0': 0 };
  if (e in simple) return { char: simple[e]!, matchesLineFeed: false, end: at + 1 };
  if (e === 'n') return { char: LINE_FEED, matchesLineFeed: true, end: at + 1 };
  if ('dwSbB'.includes(e)) return { char: null, matchesLineFeed: false, end: at + 1 };
  if ('sWD'.includes(e)) return { char: null, matchesLineFeed: true, end: at + 1 };
  if (e === 'x' || e === 'u') {
    const digits = e === 'x' ? 2 : 4;
    const hex = p.slice(at + 1, at + 1 + digits);
    if (!new RegExp(`^[0-9A-Fa-f]{${digits}}$`).test(hex)) return null;
    const code = parseInt(hex, 16);
    return { char: code, matchesLineFeed: code === LINE_FEED, end: at + 1 + digits };
  }
  // Back-references, \c, \p and letters with no meaning: not worth reasoning about.
  if (/[A-Za-z1-9]/.test(e)) return null;
  return { char: e.charCodeAt(0), matchesLineFeed: false, end: at + 1 };
}

/** Index of the `]` closing the class opened at `open`, or -1. */
function classEnd(p: string, open: number): number {
  for (let i = open + 1; i < p.length; i++) {
    if (p[i] === '\\') i++;
    else if (p[i] === ']' && !(i === open + 1 || (i === open + 2 && p[open + 1] === '^'))) return i;
  }
  return -1;
}

/** Whether the class body (between the brackets) matches a line feed; null when not understood. */
function classMatchesLineFeed(body: string): boolean | null {
  const negated = body.startsWith('^');
  // Each member as written: a single character (code), a class escape (code null), and whether it was escaped.
  const items: Array<{ code: number | null; matchesLineFeed: boolean; escaped: boolean }> = [];
  for (let i = negated ? 1 : 0; i < body.length;) {
    if (body[i] === '\\') {
      const escape = readEscape(body, i + 1);
      if (!escape) return null;
      // Inside a class \b is a backspace, not a word boundary.
      items.push(
        body[i + 1] === 'b'
          ? { code: 8, matchesLineFeed: false, escaped: true }
          : { code: escape.char, matchesLineFeed: escape.matchesLineFeed, escaped: true },
      );
      i = escape.end;
    } else {
      const code = body.charCodeAt(i);
      items.push({ code, matchesLineFeed: code === LINE_FEED, escaped: false });
      i++;
    }
  }
  let contains = false;
  for (let k = 0; k < items.length; k++) {
    const low = items[k]!;
    const dash = items[k + 1];
    const high = items[k + 2];
    if (dash && high && dash.code === 45 && !dash.escaped) {
      if (low.code === null || high.code === null) return null;
      if (low.code <= LINE_FEED && LINE_FEED <= high.code) contains = true;
      k += 2;
      continue;
    }
    if (low.matchesLineFeed) contains = true;
  }
  return negated ? !contains : contains;
}
