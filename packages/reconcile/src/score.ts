/**
 * Pair scoring: one received DTE against one ERP document (or one RCV entry). Each rule gives a
 * component in 0..1 and a Spanish phrase; the score is their weighted mean over the evidence that
 * exists (a vendor bill without lines is not penalised for it). Gates return null: a different
 * issuer, or no identifying evidence at all (neither a number nor the amount), is never a candidate.
 */
import { Rut } from '@timbre/dte';
import { canonicalRut, dayNumber, docNumber, numberSimilarity, oneEditApart, pesos, textSimilarity } from './normalize.js';
import type { ExpectedDoc, ExpectedKind, ReceivedDte, RcvEntry } from './types.js';
import type { ResolvedOptions } from './validate.js';

/** A received DTE, normalised once. */
export interface R {
  index: number;
  id: string;
  src: ReceivedDte;
  tipo: number;
  folio: number;
  rut: string;
  digits: string;
  day: number;
  total: number;
  items: string[];
  /** Quantities of `items` (undefined where the DTE gives none). */
  itemQty: (number | undefined)[];
}

export interface E {
  index: number;
  id: string;
  src: ExpectedDoc;
  kind: ExpectedKind;
  rut: string;
  digits: string;
  /** The typed RUT's check digit is wrong: certainly a typo. */
  badDv: boolean;
  day: number;
  total: number;
  numero: string;
  folioFactura: string;
  lines: string[];
  lineQty: (number | undefined)[];
}

export interface C {
  index: number;
  id: string;
  src: RcvEntry;
  tipo: number;
  folio: number;
  digits: string;
  day: number;
  total: number;
}

export function normReceived(r: ReceivedDte, index: number): R {
  const rut = canonicalRut(r.rutEmisor)!;
  return {
    index,
    id: r.id ?? `${rut}-${r.tipoDte}-${r.folio}`,
    src: r,
    tipo: r.tipoDte,
    folio: r.folio,
    rut,
    digits: rut.split('-')[0]!,
    day: dayNumber(r.fechaEmision)!,
    total: r.montoTotal,
    items: (r.items ?? []).map((i) => i.nombre),
    itemQty: (r.items ?? []).map((i) => i.cantidad),
  };
}

export function normExpected(e: ExpectedDoc, index: number): E {
  const rut = canonicalRut(e.rutProveedor)!;
  return {
    index,
    id: e.id,
    src: e,
    kind: e.kind,
    rut,
    digits: rut.split('-')[0]!,
    badDv: !Rut.isValid(rut),
    day: dayNumber(e.fecha)!,
    total: e.montoTotal,
    numero: docNumber(e.numero),
    folioFactura: docNumber(e.folioFactura),
    lines: (e.lines ?? []).map((l) => l.descripcion),
    lineQty: (e.lines ?? []).map((l) => l.cantidad),
  };
}

export function normRcv(c: RcvEntry, index: number): C {
  const rut = canonicalRut(c.rutEmisor)!;
  return { index, id: c.id ?? `${rut}-${c.tipoDte}-${c.folio}`, src: c, tipo: c.tipoDte, folio: c.folio, digits: rut.split('-')[0]!, day: dayNumber(c.fechaEmision)!, total: c.montoTotal };
}

export interface PairScore {
  score: number;
  /** Identifying number (reference / folio) equal and amount within tolerance. */
  strong: boolean;
  amountOk: boolean;
  rutTypo: boolean;
  evidence: string[];
}

export const label = (e: E): string =>
  e.kind === 'purchase_order' ? `OC ${e.src.numero ?? e.id}` : e.kind === 'goods_receipt' ? `recepción ${e.src.numero ?? e.id}` : `factura ERP ${e.id}`;

export function tolerance(o: ResolvedOptions, lines: number): number {
  return o.amountTolerance + o.amountTolerancePerLine * Math.max(1, lines);
}

/**
 * Same issuer: 'exact'; 'dv' (the RUT's number is the issuer's, only the typed check digit is wrong:
 * the number identifies the company, the check digit is derived from it, so this is the same issuer,
 * flagged); 'typo' (the number one digit off: maybe another company, so it needs more evidence); null.
 */
export function rutRelation(r: R, e: E): 'exact' | 'dv' | 'typo' | null {
  if (r.digits === e.digits) return e.badDv ? 'dv' : 'exact';
  return oneEditApart(r.digits, e.digits) ? 'typo' : null;
}

/** Fraction of the invoice's items with a similar ERP line (token Jaccard ≥ 0.5); null when either side has none. */
export function lineSimilarity(items: string[], lines: string[]): { score: number; similar: number; total: number } | null {
  if (items.length === 0 || lines.length === 0) return null;
  let similar = 0;
  for (const it of items) if (lines.some((l) => textSimilarity(it, l) >= 0.5)) similar++;
  return { score: similar / items.length, similar, total: items.length };
}

/**
 * Every line of a part (an invoice of an OC, a guía of an invoice) is in the whole, in no larger a
 * quantity where both give one (a delivery cannot bring more than was ordered), and that is not a
 * coincidence: two lines or more, or one line in exactly the quantity ordered (a single product that
 * the supplier sells all the time, in some quantity, says little).
 */
export function partFits(part: string[], partQty: (number | undefined)[], whole: string[], wholeQty: (number | undefined)[]): boolean {
  if (part.length === 0 || whole.length === 0) return false;
  let exact = 0;
  const all = part.every((t, i) => {
    let best = -1;
    let sim = 0.5 - 1e-9;
    whole.forEach((w, j) => {
      const x = textSimilarity(t, w);
      if (x > sim) {
        sim = x;
        best = j;
      }
    });
    if (best < 0) return false;
    const q = partQty[i];
    const max = wholeQty[best];
    if (q !== undefined && max !== undefined && Math.abs(q - max) < 1e-9) exact++;
    return q === undefined || max === undefined || q <= max + 1e-9;
  });
  return all && (part.length >= 2 || exact >= 1);
}

/** 1 at 0 days, 0 at the window's edge. */
export const dateScore = (days: number, window: number): number => Math.max(0, 1 - Math.abs(days) / window);

/** The numbers the invoice gives for a document type in its referencias (801 → OC, 52 → guía). */
export function refNumbers(r: R, tipo: string): string[] {
  return (r.src.referencias ?? []).filter((x) => String(x.tipoDocumento).trim().toUpperCase() === tipo).map((x) => docNumber(x.folio)).filter((x) => x !== '');
}

interface Component {
  w: number;
  s: number;
}

function combine(parts: Component[]): number {
  const w = parts.reduce((a, p) => a + p.w, 0);
  return w === 0 ? 0 : parts.reduce((a, p) => a + p.w * p.s, 0) / w;
}

/**
 * Received ↔ ERP document. `subset`: the invoice is in a set whose amounts add up to the PO's
 * total (partial deliveries) or the receipt in a set adding up to the invoice's. `explained`: a
 * vendor bill already names the invoice by folio and amount.
 */
export function scorePair(r: R, e: E, o: ResolvedOptions, subset = false, explained = false): PairScore | null {
  const rel = rutRelation(r, e);
  if (rel === null) return null;
  const ev: string[] = [rel === 'exact' ? 'RUT coincide' : rel === 'dv' ? `RUT coincide salvo el dígito verificador digitado (${e.src.rutProveedor})` : `RUT con error de digitación (${e.src.rutProveedor} ≠ ${r.rut})`];
  const tol = tolerance(o, Math.max(r.items.length, e.lines.length));
  const diff = r.total - e.total;
  const amountOk = Math.abs(diff) <= tol;
  const lbl = label(e);
  const parts: Component[] = [];
  let idScore: number | null = null;

  if (e.kind === 'vendor_bill') {
    if (e.folioFactura !== '') {
      idScore = numberSimilarity(String(r.folio), e.folioFactura);
      ev.push(idScore === 1 ? `folio ${r.folio} = folio digitado` : idScore > 0 ? `folio digitado ${e.src.folioFactura} ≈ ${r.folio} (error de digitación)` : `folio digitado ${e.src.folioFactura} ≠ ${r.folio}`);
      parts.push({ w: 0.4, s: idScore });
    }
    parts.push({ w: 0.35, s: amountOk ? 1 : 0 });
    if (!amountOk && idScore !== 1) return null;
  } else {
    const refs = refNumbers(r, e.kind === 'purchase_order' ? '801' : '52');
    if (refs.length > 0 && e.numero !== '') {
      idScore = Math.max(...refs.map((n) => numberSimilarity(n, e.numero)));
      // The invoice names another OC/guía of this supplier: not this one.
      if (idScore === 0) return null;
      const tipo = e.kind === 'purchase_order' ? 801 : 52;
      ev.push(idScore === 1 ? `referencia ${tipo} N° ${e.numero}` : `referencia ${tipo} ≈ N° ${e.numero} (error de digitación)`);
      parts.push({ w: 0.45, s: idScore });
    }
    // One invoice is one purchase: when a vendor bill already accounts for it by folio and amount, an OC
    // or guía joins it only by the number the invoice gives (a three-way match), not by amount or lines.
    if (explained && idScore === null) return null;
    // An OC is invoiced in parts; a receipt is part of what is invoiced.
    const partialOk = e.kind === 'purchase_order' ? r.total <= e.total + tol : e.total <= r.total + tol;
    const s = amountOk || subset ? 1 : partialOk ? 0.5 : 0;
    if (idScore === null && !amountOk && !subset) {
      // No number, no amount: still a part when its amount fits in the whole, it comes after it, and
      // every one of its lines is found there in no larger a quantity (an open OC's delivery that
      // names no OC, a guía among an invoice's items); the assignment's capacity keeps the parts
      // within the whole.
      const fits = e.kind === 'goods_receipt' ? partFits(e.lines, e.lineQty, r.items, r.itemQty) : partFits(r.items, r.itemQty, e.lines, e.lineQty);
      const after = e.kind === 'goods_receipt' ? e.day <= r.day + 5 : r.day >= e.day - 3;
      if (!partialOk || !fits || !after) return null;
      ev.push(`líneas contenidas en ${lbl}`);
    }
    parts.push({ w: 0.3, s });
    if (!amountOk && subset) ev.push(`monto ${pesos(r.total)} parte de una suma que cuadra con ${lbl}`);
    else if (!amountOk && partialOk) ev.push(`monto ${pesos(r.total)} parcial de ${lbl} (${pesos(e.total)})`);
  }
  if (amountOk) ev.push(`monto total ${pesos(r.total)} = ${lbl} (diferencia ${pesos(Math.abs(diff))})`);
  else if (e.kind === 'vendor_bill') ev.push(`monto ${pesos(r.total)} ≠ ${pesos(e.total)}`);

  const days = r.day - e.day;
  parts.push({ w: 0.1, s: dateScore(days, o.dateWindowDays) });
  ev.push(`fecha a ${Math.abs(days)} día${Math.abs(days) === 1 ? '' : 's'}`);
  // The invoice is part of an OC; a receipt is part of an invoice: the part's lines are looked up in the whole.
  const ls = e.kind === 'goods_receipt' ? lineSimilarity(e.lines, r.items) : lineSimilarity(r.items, e.lines);
  if (ls) {
    // Lines on both sides and not one alike: the amount agreeing is a coincidence unless a number
    // (folio, 801/52 reference) says otherwise.
    if (ls.similar === 0 && idScore === null) return null;
    parts.push({ w: 0.15, s: ls.score });
    ev.push(`${ls.similar}/${ls.total} líneas similares`);
  }
  let score = combine(parts);
  const strong = idScore === 1 && (amountOk || subset);
  if (rel === 'typo') {
    // A hand-typed RUT one digit off is accepted only with the document number and the amount agreeing.
    if (!strong) return null;
    score *= 0.9;
  }
  return { score, strong, amountOk, rutTypo: rel !== 'exact', evidence: ev };
}

/** Received ↔ RCV entry: same issuer and type; the folio (the SII's, no typos) or, failing that, amount and date. */
export function scoreRcv(r: R, c: C, o: ResolvedOptions): PairScore | null {
  if (r.digits !== c.digits || r.tipo !== c.tipo) return null;
  const tol = tolerance(o, r.items.length);
  const amountOk = Math.abs(r.total - c.total) <= tol;
  const folio = r.folio === c.folio ? 1 : 0;
  if (folio === 0) return null;
  const days = r.day - c.day;
  const score = combine([
    { w: 0.6, s: folio },
    { w: 0.3, s: amountOk ? 1 : 0 },
    { w: 0.1, s: dateScore(days, o.dateWindowDays) },
  ]);
  const ev = [`RCV tipo ${c.tipo} folio ${c.folio}`, amountOk ? `monto ${pesos(c.total)} igual` : `monto RCV ${pesos(c.total)} ≠ ${pesos(r.total)}`];
  if (days !== 0) ev.push(`fecha RCV a ${Math.abs(days)} días`);
  if (c.src.estado) ev.push(`estado ${c.src.estado}`);
  return { score, strong: amountOk, amountOk, rutTypo: false, evidence: ev };
}
