/**
 * Amount arithmetic for SII documents.
 *
 * The SII (and LibreDTE, whose PHP `round()` it matches) rounds half AWAY from zero and tolerates
 * no 1-peso difference (sii-spec §3.3; pitfalls #5). JavaScript's `Math.round` rounds half toward
 * +∞ (`Math.round(-2.5) === -2`), and binary floating point turns `1.005` into
 * `1.00499999999999989…`, so neither `Math.round(x * 100) / 100` nor `toFixed` is usable.
 *
 * Here every number is first read as the shortest decimal with 15 significant digits (what PHP's
 * `round()` does with its "pre-rounding" step and what a human wrote), then rounded on exact
 * integers (BigInt). Products of two decimals (quantity × price, amount × exchange rate) are
 * computed exactly on those decimals, never on binary floats.
 */
import { TimbreError } from './errors.js';

/** An exact decimal: `digits × 10^exp` (digits ≥ 0) with a sign. */
interface Dec {
  neg: boolean;
  digits: bigint;
  exp: number;
}

const TEN = 10n;
const pow10 = (n: number): bigint => TEN ** BigInt(n);

const isInt = (x: number): boolean => Number.isSafeInteger(x);

function toDec(x: number): Dec {
  if (isInt(x)) return x === 0 ? { neg: false, digits: 0n, exp: 0 } : { neg: x < 0, digits: BigInt(Math.abs(x)), exp: 0 };
  if (!Number.isFinite(x)) {
    throw new TimbreError('ERR_INPUT_INVALID', `amount ${String(x)} is not a finite number`, { actual: x });
  }
  if (x === 0) return { neg: false, digits: 0n, exp: 0 };
  const neg = x < 0;
  // 15 significant digits: the decimal a person meant (1.005, 0.285, 28.5), binary noise removed.
  const s = Math.abs(x).toPrecision(15);
  const [mant = '0', e = '0'] = s.split('e');
  const [ip = '0', fp = ''] = mant.split('.');
  return { neg, digits: BigInt(ip + fp), exp: Number(e) - fp.length };
}

/** Round an exact decimal to `decimals` places, half away from zero → integer of 10^-decimals units. */
function roundDecUnits(d: Dec, decimals: number): bigint {
  const shift = d.exp + decimals;
  let q: bigint;
  if (shift >= 0) {
    q = d.digits * pow10(shift);
  } else {
    const p = pow10(-shift);
    q = d.digits / p;
    if ((d.digits % p) * 2n >= p) q += 1n;
  }
  return d.neg ? -q : q;
}

function unitsToNumber(units: bigint, decimals: number): number {
  if (units === 0n) return 0;
  return decimals === 0 ? Number(units) : Number(`${units}e-${decimals}`);
}

function unitsToString(units: bigint, decimals: number): string {
  if (units === 0n) return '0';
  const neg = units < 0n;
  let s = (neg ? -units : units).toString();
  if (decimals > 0) {
    s = s.padStart(decimals + 1, '0');
    const int = s.slice(0, s.length - decimals);
    const frac = s.slice(s.length - decimals).replace(/0+$/, '');
    s = frac ? `${int}.${frac}` : int;
  }
  return neg ? `-${s}` : s;
}

function checkDecimals(decimals: number): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > 12) {
    throw new TimbreError('ERR_INPUT_INVALID', `decimals must be an integer 0..12, got ${decimals}`);
  }
}

/**
 * Round half away from zero: `roundHalfAway(2.5) === 3`, `roundHalfAway(-2.5) === -3`,
 * `roundHalfAway(1.005, 2) === 1.01`, `roundHalfAway(0.285 * 100) === 29`. Never returns `-0`.
 */
export function roundHalfAway(x: number, decimals = 0): number {
  checkDecimals(decimals);
  if (isInt(x)) return x === 0 ? 0 : x; // integers are exact: nothing to round (and no -0)
  return unitsToNumber(roundDecUnits(toDec(x), decimals), decimals);
}

/** `a × b`, computed exactly on the decimals a and b denote, rounded half away from zero. */
export function multiplyRound(a: number, b: number, decimals = 0): number {
  checkDecimals(decimals);
  if (isInt(a) && isInt(b) && isInt(a * b)) return a * b === 0 ? 0 : a * b;
  const da = toDec(a);
  const db = toDec(b);
  const p: Dec = { neg: da.neg !== db.neg, digits: da.digits * db.digits, exp: da.exp + db.exp };
  return unitsToNumber(roundDecUnits(p, decimals), decimals);
}

/** `base × pct / 100` exactly, rounded half away from zero (discounts, surcharges, taxes). */
export function percentOf(base: number, pct: number, decimals = 0): number {
  checkDecimals(decimals);
  const da = toDec(base);
  const db = toDec(pct);
  const p: Dec = { neg: da.neg !== db.neg, digits: da.digits * db.digits, exp: da.exp + db.exp - 2 };
  return unitsToNumber(roundDecUnits(p, decimals), decimals);
}

/** `a / b` rounded half away from zero (neto from a gross amount: `divideRound(680, 1.19) === 571`). */
export function divideRound(a: number, b: number, decimals = 0): number {
  checkDecimals(decimals);
  const da = toDec(a);
  const db = toDec(b);
  if (db.digits === 0n) throw new TimbreError('ERR_INPUT_INVALID', 'division by zero');
  // a/b × 10^decimals = (da.digits / db.digits) × 10^(da.exp − db.exp + decimals).
  const scale = decimals + da.exp - db.exp;
  let num = da.digits;
  let den = db.digits;
  if (scale >= 0) num *= pow10(scale);
  else den *= pow10(-scale);
  let q = num / den;
  if ((num % den) * 2n >= den) q += 1n;
  const neg = da.neg !== db.neg && q !== 0n;
  return unitsToNumber(neg ? -q : q, decimals);
}

/** Sum of amounts without binary drift (each term read as its 15-digit decimal), rounded to `decimals`. */
export function sumRound(values: readonly number[], decimals = 0): number {
  checkDecimals(decimals);
  if (values.every(isInt)) {
    let t = 0;
    for (const v of values) t += v;
    if (isInt(t)) return t === 0 ? 0 : t;
  }
  let exp = 0;
  const ds = values.map(toDec);
  for (const d of ds) exp = Math.min(exp, d.exp);
  let total = 0n;
  for (const d of ds) {
    const v = d.digits * pow10(d.exp - exp);
    total += d.neg ? -v : v;
  }
  const neg = total < 0n;
  return unitsToNumber(roundDecUnits({ neg, digits: neg ? -total : total, exp }, decimals), decimals);
}

/** Does x have at most `decimals` decimal places (as the decimal it denotes)? */
export function hasAtMostDecimals(x: number, decimals: number): boolean {
  const d = toDec(x);
  if (d.exp >= -decimals) return true;
  return d.digits % pow10(-d.exp - decimals) === 0n;
}

/**
 * Decimal text for XML: `.` separator, no exponent, no thousands separator, no trailing zeros,
 * decimals only when significant (FMT §2.2): `formatDecimal(1234.5, 4) === '1234.5'`,
 * `formatDecimal(1e21, 0) === '1000000000000000000000'`, `formatDecimal(-0.00001, 4) === '0'`.
 */
export function formatDecimal(x: number, maxDecimals: number): string {
  checkDecimals(maxDecimals);
  if (isInt(x)) return x === 0 ? '0' : String(x);
  return unitsToString(roundDecUnits(toDec(x), maxDecimals), maxDecimals);
}
