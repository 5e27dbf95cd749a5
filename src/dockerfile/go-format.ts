/**
 * Go's formatting where Docker's history strings use it: `%q` of strings, string slices and ints,
 * `%v` of string slices, `time.Duration.String` and `time.ParseDuration`.
 */

const isPrintable = (ch: string): boolean => ch === ' ' || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch);

const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

function escapeRune(ch: string, quote: '"' | "'"): string {
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (isPrintable(ch)) return ch;
  const cp = ch.codePointAt(0)!;
  switch (cp) {
    case 0x07: return '\\a';
    case 0x08: return '\\b';
    case 0x0c: return '\\f';
    case 0x0a: return '\\n';
    case 0x0d: return '\\r';
    case 0x09: return '\\t';
    case 0x0b: return '\\v';
  }
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex(cp, 2)}`;
  if (cp >= 0xd800 && cp <= 0xdfff) return '\\ufffd'; // a lone surrogate is not valid UTF-8: Go writes U+FFFD
  if (cp < 0x10000) return `\\u${hex(cp, 4)}`;
  return `\\U${hex(cp, 8)}`;
}

/** `strconv.Quote` / `%q` of a string. */
export const goQuote = (s: string): string => `"${Array.from(s, (ch) => escapeRune(ch, '"')).join('')}"`;

/** `%q` of an int: Go prints it as a quoted rune, e.g. 0 -> `'\x00'`, 3 -> `'\x03'`, 65 -> `'A'`. */
export function goQuoteInt(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0x10ffff) return `%!q(int=${n})`;
  return `'${escapeRune(String.fromCodePoint(n), "'")}'`;
}

/** `%q` of a []string: `["a" "b"]`. */
export const goQuoteSlice = (items: readonly string[]): string => `[${items.map(goQuote).join(' ')}]`;

/** `%v` of a []string: `[a b]`. */
export const goSlice = (items: readonly string[]): string => `[${items.join(' ')}]`;

const NS = { ns: 1n, us: 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };

/** Go's `time.Duration.String`, e.g. 5s, 1m30s, 1h0m0s, 1.5s, 250ms, 0s (input in nanoseconds). */
export function goDuration(nanoseconds: number | bigint): string {
  let u = BigInt(nanoseconds);
  const neg = u < 0n;
  if (neg) u = -u;
  let out: string;
  if (u < NS.s) {
    if (u === 0n) return '0s';
    if (u < NS.us) out = `${u}ns`;
    else if (u < NS.ms) out = `${fraction(u, 3)}µs`;
    else out = `${fraction(u, 6)}ms`;
  } else {
    const secondsPart = fraction(u % NS.m, 9);
    let minutes = u / NS.m;
    out = `${secondsPart}s`;
    if (minutes > 0n) {
      const hours = minutes / 60n;
      minutes %= 60n;
      out = `${minutes}m${out}`;
      if (hours > 0n) out = `${hours}h${out}`;
    }
  }
  return neg ? `-${out}` : out;
}

/** v / 10^prec with the fraction's trailing zeros (and a bare point) left out. */
function fraction(v: bigint, prec: number): string {
  const scale = 10n ** BigInt(prec);
  const whole = v / scale;
  const frac = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return frac === '' ? `${whole}` : `${whole}.${frac}`;
}

const UNITS: Record<string, bigint> = { ns: 1n, us: 1000n, 'µs': 1000n, 'μs': 1000n, ms: 1_000_000n, s: NS.s, m: NS.m, h: NS.h };

/** Go's `time.ParseDuration` (e.g. `1h30m`, `1.5s`, `300ms`), in nanoseconds; null when malformed. */
export function parseGoDuration(input: string): number | null {
  let s = input;
  let neg = false;
  if (s.startsWith('-') || s.startsWith('+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return null;
  let total = 0n;
  const re = /^(\d*)(?:\.(\d*))?([^\d.]+)/u;
  while (s !== '') {
    const m = re.exec(s);
    if (!m || (m[1] === '' && (m[2] === undefined || m[2] === ''))) return null;
    const unit = UNITS[m[3]!];
    if (unit === undefined) return null;
    const whole = BigInt(m[1] === '' ? '0' : m[1]!);
    let value = whole * unit;
    if (m[2]) {
      const digits = m[2];
      value += (BigInt(digits) * unit) / 10n ** BigInt(digits.length);
    }
    total += value;
    if (total > 9_223_372_036_854_775_807n) return null;
    s = s.slice(m[0].length);
  }
  return Number(neg ? -total : total);
}
