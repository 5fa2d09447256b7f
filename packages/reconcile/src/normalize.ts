/**
 * Normalisation shared by the scoring rules: RUTs as the ERP types them (dots, no hyphen, k), Spanish
 * text for line similarity (accents folded, case, stop words), document numbers with prefixes and
 * leading zeros (`OC-0004500123`), day arithmetic and Chilean amount formatting for explanations.
 */
import { Rut } from '@timbre/dte';

/** Canonical `12345678-K`, or null when the text is not RUT-shaped at all. Wrong DVs are kept (hand-typed). */
export function canonicalRut(input: string): string | null {
  try {
    return Rut.parse(input, { validateDv: false }).canonical;
  } catch {
    return null;
  }
}

/** Edit distance ≤ 1 between two digit strings (one substitution, insertion, deletion or adjacent transposition). */
export function oneEditApart(a: string, b: string): boolean {
  if (a === b) return false;
  if (Math.abs(a.length - b.length) > 1) return false;
  if (a.length === b.length) {
    const diff: number[] = [];
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff.push(i);
    if (diff.length === 1) return true;
    const [i, j] = diff;
    return diff.length === 2 && i !== undefined && j === i + 1 && a[i] === b[j] && a[j] === b[i];
  }
  const [s, l] = a.length < b.length ? [a, b] : [b, a];
  for (let i = 0; i < l.length; i++) if (l.slice(0, i) + l.slice(i + 1) === s) return true;
  return false;
}

/** A document number as digits only, without leading zeros: `OC-0004500123` → `4500123`. */
export function docNumber(input: string | number | undefined | null): string {
  if (input === undefined || input === null) return '';
  const digits = String(input).replace(/\D/g, '').replace(/^0+(?=\d)/, '');
  return digits;
}

/** 1 equal, 0.6 one digit off or transposed (a typo), 0 otherwise. */
export function numberSimilarity(a: string, b: string): number {
  if (a === '' || b === '') return 0;
  if (a === b) return 1;
  return a.length >= 3 && oneEditApart(a, b) ? 0.6 : 0;
}

const STOP = new Set(['de', 'del', 'la', 'el', 'los', 'las', 'y', 'para', 'con', 'en', 'un', 'una', 'por', 'x', 'al']);

/** Descriptions repeat (the same lines scored against many documents): tokenised once. Bounded. */
const TOKEN_CACHE = new Map<string, Set<string>>();

/** Accents folded, lower case, punctuation out, stop words and one-letter tokens dropped. */
export function tokens(text: string): Set<string> {
  const hit = TOKEN_CACHE.get(text);
  if (hit) return hit;
  const folded = text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^a-z0-9ñ]+/g, ' ');
  const out = new Set(folded.split(' ').filter((t) => t.length > 1 && !STOP.has(t)));
  if (TOKEN_CACHE.size >= 20_000) TOKEN_CACHE.clear();
  TOKEN_CACHE.set(text, out);
  return out;
}

const MONTHS = ['enero', 'febrero', 'marzo', 'abril', 'mayo', 'junio', 'julio', 'agosto', 'septiembre', 'octubre', 'noviembre', 'diciembre'];
const MONTH_OF = new Map<string, number>([
  ...MONTHS.map((m, i): [string, number] => [m, i + 1]),
  ...['ene', 'feb', 'mar', 'abr', 'may', 'jun', 'jul', 'ago', 'sep', 'oct', 'nov', 'dic'].map((m, i): [string, number] => [m, i + 1]),
  ['setiembre', 9],
  ['sept', 9],
]);

/** The months a description names (`marzo`, `mar`): the service period of a recurring invoice. */
export function months(t: Set<string>): Set<number> {
  const out = new Set<number>();
  for (const x of t) {
    const m = MONTH_OF.get(x);
    if (m !== undefined) out.add(m);
  }
  return out;
}

/**
 * Token Jaccard of two descriptions; 0 when both name a period and the periods differ ("Arriendo
 * bodega marzo 2026" is not "Arriendo bodega abril 2026", however many words they share: recurring
 * services are told apart by the month they bill).
 */
export function textSimilarity(a: string, b: string): number {
  const ta = tokens(a);
  const tb = tokens(b);
  if (ta.size === 0 || tb.size === 0) return 0;
  const ma = months(ta);
  const mb = months(tb);
  if (ma.size > 0 && mb.size > 0 && ![...ma].some((m) => mb.has(m))) return 0;
  let inter = 0;
  for (const t of ta) if (tb.has(t)) inter++;
  return inter / (ta.size + tb.size - inter);
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Days since 1970-01-01 of a real `YYYY-MM-DD`, or null. */
export function dayNumber(date: string): number | null {
  const m = DATE_RE.exec(date);
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(t);
  if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) return null;
  return Math.round(t / 86_400_000);
}

/** `1190000` → `1.190.000` (the Chilean way; no ICU dependence). */
export function pesos(n: number): string {
  const s = String(Math.round(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g, '.');
  return n < 0 ? `-${s}` : s;
}
