/**
 * Chilean formats for the printed document: thousands with '.', decimals with ',', RUT with dots
 * and dash, dates in Spanish. Every function accepts whatever a hostile XML may carry (non-finite
 * numbers, malformed dates) and returns something printable instead of throwing.
 */

const MONTHS = ['enero', 'febrero', 'marzo', 'abril', 'mayo', 'junio', 'julio', 'agosto', 'septiembre', 'octubre', 'noviembre', 'diciembre'];

function group(intDigits: string): string {
  if (intDigits.length <= 3) return intDigits;
  let out = '';
  const head = intDigits.length % 3;
  if (head > 0) out = intDigits.slice(0, head);
  for (let i = head; i < intDigits.length; i += 3) out += (out === '' ? '' : '.') + intDigits.slice(i, i + 3);
  return out;
}

/**
 * `1234567.5` → `1.234.567,5`: at least `minDecimals`, at most `maxDecimals` (trailing zeros
 * beyond the minimum trimmed). Rounds half away from zero on the decimal the number denotes.
 */
export function formatNumber(n: number, minDecimals = 0, maxDecimals = 0): string {
  if (!Number.isFinite(n)) return '?';
  const abs = Math.abs(n);
  // String(n) is the shortest text that reads back as n: the decimal the XML wrote. Rounding that
  // text (half away from zero) avoids toFixed's binary surprises (1.005 → "1.00").
  const exact = String(abs);
  let intPart: string;
  let dec: string;
  if (exact.includes('e')) {
    if (abs >= 1e21) return String(n); // never a real amount
    [intPart = '0', dec = ''] = abs.toFixed(maxDecimals).split('.');
  } else {
    [intPart = '0', dec = ''] = exact.split('.');
    if (dec.length > maxDecimals) {
      const up = dec.charCodeAt(maxDecimals) >= 0x35;
      dec = dec.slice(0, maxDecimals);
      if (up) {
        const digits = (BigInt(intPart + dec) + 1n).toString().padStart(maxDecimals + 1, '0');
        intPart = digits.slice(0, digits.length - maxDecimals);
        dec = digits.slice(digits.length - maxDecimals);
      }
    }
  }
  dec = dec.padEnd(minDecimals, '0');
  let end = dec.length;
  while (end > minDecimals && dec.charCodeAt(end - 1) === 0x30) end--;
  dec = dec.slice(0, end);
  const body = dec === '' ? group(intPart) : `${group(intPart)},${dec}`;
  return n < 0 && /[1-9]/.test(body) ? `-${body}` : body;
}

/** Integer amounts and counts: `1129906` → `1.129.906`. */
export const formatInt = (n: number): string => formatNumber(n, 0, 0);

/** CLP amount: `$ 1.129.906` (decimals only if the value has them, which CLP amounts never should). */
export const formatClp = (n: number): string => `$ ${formatNumber(n, 0, 4)}`;

/** Quantities and unit prices (Dec 12.6): trimmed, `2`, `0,5`, `1.000`, `189,95`. */
export const formatQty = (n: number): string => formatNumber(n, 0, 6);

/** `76086428-5` → `76.086.428-5`; anything else is returned as is. */
export function formatRut(rut: string): string {
  const m = /^0*(\d{1,9})-([\dkK])$/.exec(rut.trim());
  if (!m) return rut;
  return `${group(m[1] as string)}-${(m[2] as string).toUpperCase()}`;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})/;

/** `2026-11-27` → `27 de noviembre de 2026`; a malformed date is returned as is. */
export function formatDateLong(d: string): string {
  const m = DATE.exec(d);
  const month = m ? MONTHS[Number(m[2]) - 1] : undefined;
  if (!m || !month) return d;
  return `${Number(m[3])} de ${month} de ${m[1]}`;
}

/** `2026-11-27` → `27-11-2026` (the usual Chilean short form). */
export function formatDateShort(d: string): string {
  const m = DATE.exec(d);
  return m ? `${m[3]}-${m[2]}-${m[1]}` : d;
}

/** The year of a `YYYY-MM-DD` date, or undefined. */
export function yearOf(d: string | undefined): string | undefined {
  const m = d === undefined ? null : /^(\d{4})/.exec(d.trim());
  return m ? m[1] : undefined;
}

/** A percentage: `19` → `19%`, `10.5` → `10,5%`. */
export const formatPct = (n: number): string => `${formatNumber(n, 0, 2)}%`;
