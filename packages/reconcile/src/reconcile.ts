/**
 * `reconcile(input, options)`: received DTEs against the ERP's expected documents and the RCV, in
 * layers that are each a global assignment (Hungarian on 1 − score, each row with its own "no match"
 * column at 1 − threshold), never greedy:
 * - vendor bills ↔ received documents, one to one;
 * - purchase orders ↔ invoices, one PO to up to `maxParts` invoices (partial deliveries): the PO is
 *   offered as that many columns; invoices without a reference join a PO when a bounded subset-sum
 *   finds them adding up to its total; a PO is never filled above its total (a capacity kept inside
 *   the assignment by branch and bound, not trimmed after it);
 * - goods receipts ↔ invoices, several receipts to one invoice, the same way round the other side;
 * - RCV entries ↔ received documents, one to one (same issuer, type and folio);
 * - credit (61) and debit (56) notes to the received invoice their referencias name (a FolioRef typo
 *   only with the FchRef and the amount agreeing), adjusting the open amount of that invoice's PO.
 * Duplicated received DTEs (same issuer, type, folio) are set aside. Pure and deterministic.
 */
import { hungarian } from './hungarian.js';
import { dayNumber, docNumber, numberSimilarity, pesos } from './normalize.js';
import { label, normExpected, normRcv, normReceived, refNumbers, rutRelation, scorePair, scoreRcv, tolerance, type C, type E, type PairScore, type R } from './score.js';
import type { Match, MatchKind, ReconcileInput, ReconcileOptions, ReconcileResult, Remaining, Unmatched, UnmatchedReceived } from './types.js';
import { checkInput, checkOptions, type ResolvedOptions } from './validate.js';

const NOTES = new Set([56, 61]);
const INVOICE_TIPOS = new Set(['33', '34', '46']);
const NO = 1e6;

interface Pair {
  row: number;
  col: number;
  s: PairScore;
}

/**
 * An amount capacity per column: the rows given one column must not add up to more than its amount
 * (a PO is not invoiced above its total; an invoice does not take receipts above its own). One row
 * alone may exceed it (an over-invoiced OC is still that OC's invoice: `pendiente` goes negative).
 */
export interface Capacity {
  amountOf: (p: Pair) => number;
  capOf: (col: number) => number;
  tolOf: (col: number) => number;
}

/** Hungarian solves allowed per component for the capacity search (fewer for large components). */
export const MAX_BRANCH_SOLVES = 200;

/** The first column whose rows overfill it: those pairs, or null when the assignment is feasible. */
function overfilled(chosen: Pair[], cap: Capacity | undefined): Pair[] | null {
  if (!cap) return null;
  const byCol = new Map<number, Pair[]>();
  for (const p of chosen) byCol.set(p.col, [...(byCol.get(p.col) ?? []), p]);
  for (const [col, list] of [...byCol].sort((a, b) => a[0] - b[0])) {
    if (list.length < 2) continue;
    if (list.reduce((a, p) => a + cap.amountOf(p), 0) > cap.capOf(col) + cap.tolOf(col) * list.length) return list;
  }
  return null;
}

/**
 * Global assignment of rows to columns offered `slots` times each, over sparse candidate pairs, solved
 * per connected component (one supplier's documents, in practice). With a capacity the problem is no
 * longer a plain assignment: the Hungarian solves the relaxation, and while a column is overfilled the
 * search branches on which of its rows leaves it (best-first branch and bound: every feasible answer
 * lies in one branch, and forbidding a pair never lowers the cost, so the first feasible node taken is
 * the optimum). Dropping the weakest row after the fact instead is greedy, and wrong exactly when the
 * weaker row has no other home. Returns row → pair.
 */
export function assign(pairs: Pair[], slots: number, threshold: number, capacity?: Capacity): Map<number, Pair> {
  const ok = pairs.filter((p) => p.s.score >= threshold);
  const parent = new Map<string, string>();
  const find = (k: string): string => {
    let x = k;
    while (parent.get(x) !== x) x = parent.get(x)!;
    parent.set(k, x);
    return x;
  };
  for (const p of ok) {
    for (const k of [`r${p.row}`, `c${p.col}`]) if (!parent.has(k)) parent.set(k, k);
    const a = find(`r${p.row}`);
    const b = find(`c${p.col}`);
    if (a !== b) parent.set(a < b ? b : a, a < b ? a : b);
  }
  const comps = new Map<string, Pair[]>();
  for (const p of ok) {
    const root = find(`r${p.row}`);
    const list = comps.get(root) ?? [];
    list.push(p);
    comps.set(root, list);
  }
  const out = new Map<number, Pair>();
  for (const list of comps.values()) {
    if (new Set(list.map((p) => p.row)).size > MAX_COMPONENT_ROWS) {
      greedy(list, slots, out);
      continue;
    }
    const rows = [...new Set(list.map((p) => p.row))].sort((a, b) => a - b);
    const cols = [...new Set(list.map((p) => p.col))].sort((a, b) => a - b);
    const ri = new Map(rows.map((r, i) => [r, i]));
    const ci = new Map(cols.map((c, i) => [c, i]));
    const width = cols.length * slots + rows.length;
    const solve = (forbidden: ReadonlySet<Pair>): { cost: number; chosen: Pair[] } => {
      const cost = rows.map((_, i) => {
        const row = new Array<number>(width).fill(NO);
        row[cols.length * slots + i] = 1 - threshold;
        return row;
      });
      const byCell = new Map<string, Pair>();
      for (const p of list) {
        if (forbidden.has(p)) continue;
        const i = ri.get(p.row)!;
        const j = ci.get(p.col)!;
        byCell.set(`${i}/${j}`, p);
        // Later slots a hair dearer: ties resolve the same way every run.
        for (let k = 0; k < slots; k++) cost[i]![j * slots + k] = 1 - p.s.score + k * 1e-9;
      }
      const a = hungarian(cost);
      let total = 0;
      const chosen: Pair[] = [];
      a.forEach((col, i) => {
        total += cost[i]![col]!;
        if (col < 0 || col >= cols.length * slots) return;
        const p = byCell.get(`${i}/${Math.floor(col / slots)}`);
        if (p) chosen.push(p);
      });
      return { cost: total, chosen };
    };
    // Best-first over sets of forbidden pairs; the budget shrinks with the component (cubic solves).
    const budget = Math.max(4, Math.min(MAX_BRANCH_SOLVES, Math.floor(4e7 / (rows.length * rows.length * width))));
    const root = { forbidden: new Set<Pair>(), ...solve(new Set()) };
    const open = [root];
    let answer: Pair[] | null = null;
    let solves = 1;
    while (open.length > 0) {
      open.sort((a, b) => a.cost - b.cost);
      const node = open.shift()!;
      const over = overfilled(node.chosen, capacity);
      if (!over) {
        answer = node.chosen;
        break;
      }
      if (solves >= budget) break;
      for (const p of over) {
        if (solves >= budget) break;
        const forbidden = new Set(node.forbidden).add(p);
        solves++;
        open.push({ forbidden, ...solve(forbidden) });
      }
    }
    // Out of budget: the cheapest relaxation; the caller's trim drops the weakest rows of a full column.
    for (const p of answer ?? root.chosen) out.set(p.row, p);
  }
  return out;
}

/**
 * Larger groups of interchangeable documents (hundreds from one supplier with the same amounts and
 * no identifying numbers) are assigned greedily by score: the dense Hungarian is cubic, and such a
 * group has no better answer to find. The explanation says so.
 */
export const MAX_COMPONENT_ROWS = 300;

/** Received documents scored against one ERP document at most: the rest are never its best options. */
export const MAX_CANDIDATES = 24;

/**
 * The likeliest MAX_CANDIDATES of a supplier's many documents for `e`, by cheap keys: its number
 * (folio, 801/52 reference), then the amount, then the date; ties spread by a hash of both ids so
 * that identical documents do not all compete for the same few.
 */
function shortlist(all: R[], e: E, o: ResolvedOptions): R[] {
  const tol = tolerance(o, e.lines.length);
  const key = (r: R): number[] => {
    const num = e.kind === 'vendor_bill' ? (e.folioFactura !== '' && numberSimilarity(String(r.folio), e.folioFactura) > 0 ? 0 : 1) : refNumbers(r, e.kind === 'purchase_order' ? '801' : '52').some((n) => numberSimilarity(n, e.numero) > 0) ? 0 : 1;
    return [num, Math.abs(r.total - e.total) <= tol ? 0 : 1, Math.abs(r.day - e.day), mix(r.index, e.index)];
  };
  const keyed = all.map((r) => ({ r, k: key(r) }));
  keyed.sort((a, b) => a.k[0]! - b.k[0]! || a.k[1]! - b.k[1]! || a.k[2]! - b.k[2]! || a.k[3]! - b.k[3]!);
  return keyed.slice(0, MAX_CANDIDATES).map((x) => x.r);
}

/** A deterministic integer hash of two indices (tie-break). */
function mix(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  return Math.imul(h, 0x7feb352d) >>> 0;
}

function greedy(list: Pair[], slots: number, out: Map<number, Pair>): void {
  const used = new Map<number, number>();
  const sorted = [...list].sort((a, b) => b.s.score - a.s.score || a.row - b.row || a.col - b.col);
  for (const p of sorted) {
    if (out.has(p.row) || (used.get(p.col) ?? 0) >= slots) continue;
    out.set(p.row, p);
    used.set(p.col, (used.get(p.col) ?? 0) + 1);
    p.s.evidence.push(`asignación aproximada (grupo de más de ${MAX_COMPONENT_ROWS} documentos indistinguibles)`);
  }
}

/**
 * Subsets (2..maxParts members, in candidate order, first found) whose amounts add up to `target`
 * within the tolerance per member. Bounded: at most 14 candidates.
 */
export function subsetSum(amounts: number[], target: number, tol: number, maxParts: number): number[] | null {
  const n = Math.min(amounts.length, 14);
  const pick: number[] = [];
  const rec = (start: number, sum: number, size: number): boolean => {
    if (pick.length === size) return Math.abs(sum - target) <= tol * size;
    for (let i = start; i < n; i++) {
      const v = amounts[i]!;
      if (sum + v > target + tol * size) continue;
      pick.push(i);
      if (rec(i + 1, sum + v, size)) return true;
      pick.pop();
    }
    return false;
  };
  for (let size = 2; size <= maxParts; size++) if (rec(0, 0, size)) return [...pick];
  return null;
}

function uniqueIds(rs: R[]): void {
  const seen = new Map<string, number>();
  for (const r of rs) {
    const n = seen.get(r.id) ?? 0;
    seen.set(r.id, n + 1);
    if (n > 0) r.id = `${r.id}#${n + 1}`;
  }
}

export function reconcile(input: ReconcileInput, options?: ReconcileOptions): ReconcileResult {
  const checked = checkInput(input);
  const o: ResolvedOptions = checkOptions(options);
  const received = checked.received.map(normReceived);
  uniqueIds(received);
  const expected = checked.expected.map(normExpected);
  const rcv = checked.rcv.map(normRcv);

  // Duplicates: the same DTE received twice is one document.
  const dupOf = new Map<number, R>();
  const firstByKey = new Map<string, R>();
  for (const r of received) {
    const key = `${r.digits}/${r.tipo}/${r.folio}`;
    const first = firstByKey.get(key);
    if (first) dupOf.set(r.index, first);
    else firstByKey.set(key, r);
  }
  const active = received.filter((r) => !dupOf.has(r.index));
  const docs = active.filter((r) => !NOTES.has(r.tipo));
  const notes = active.filter((r) => NOTES.has(r.tipo));

  // Candidates by issuer: the exact RUT, and for hand-typed RUTs not seen among the received (or with
  // a wrong check digit) those one digit away.
  const byDigits = new Map<string, R[]>();
  for (const r of docs) byDigits.set(r.digits, [...(byDigits.get(r.digits) ?? []), r]);
  const memo = new Map<number, R[]>();
  const candidatesOf = (e: E): R[] => {
    const hit = memo.get(e.index);
    if (hit) return hit;
    const same = byDigits.get(e.digits);
    const all = same && !e.badDv ? same : docs.filter((r) => rutRelation(r, e) !== null);
    const list = all.length <= MAX_CANDIDATES ? all : shortlist(all, e, o);
    memo.set(e.index, list);
    return list;
  };
  const best = new Map<string, { score: number; other: string }>();
  const noteBest = (id: string, score: number, other: string) => {
    const b = best.get(id);
    if (!b || score > b.score) best.set(id, { score, other });
  };

  const scoreAll = (kind: E['kind'], subsetMembers: Set<string>, explained: ReadonlySet<number> = new Set()): Pair[] => {
    const out: Pair[] = [];
    for (const e of expected) {
      if (e.kind !== kind) continue;
      for (const r of candidatesOf(e)) {
        const s = scorePair(r, e, o, subsetMembers.has(`${r.index}/${e.index}`), explained.has(r.index));
        if (!s) continue;
        noteBest(r.id, s.score, e.id);
        noteBest(e.id, s.score, r.id);
        out.push(kind === 'goods_receipt' ? { row: e.index, col: r.index, s } : { row: r.index, col: e.index, s });
      }
    }
    return out;
  };

  // Partial deliveries: invoices (no reference to another OC) adding up to a PO's total.
  const poSubsets = new Set<string>();
  for (const e of expected) {
    if (e.kind !== 'purchase_order') continue;
    const cands = candidatesOf(e)
      .filter((r) => rutRelation(r, e) !== 'typo' && rutRelation(r, e) !== null && r.day >= e.day - 3 && r.day <= e.day + 3 * o.dateWindowDays && r.total < e.total)
      .filter((r) => refNumbers(r, '801').length === 0 || refNumbers(r, '801').includes(e.numero))
      // Invoices naming this OC first, then the closest in date: the subset found first is the likeliest.
      .sort((a, b) => refRank(a, '801', e) - refRank(b, '801', e) || Math.abs(a.day - e.day) - Math.abs(b.day - e.day) || a.index - b.index);
    const sub = subsetSum(cands.map((r) => r.total), e.total, tolerance(o, e.lines.length), o.maxParts);
    if (sub) for (const i of sub) poSubsets.add(`${cands[i]!.index}/${e.index}`);
  }
  // Several goods receipts for one invoice. A guía that another invoice names is not this one's unless
  // this one names it too (as an invoice naming another OC is left out of that OC's subsets).
  const citedBy = new Map<string, Set<number>>();
  for (const r of docs) for (const n of refNumbers(r, '52')) citedBy.set(`${r.digits}/${n}`, (citedBy.get(`${r.digits}/${n}`) ?? new Set()).add(r.index));
  const citedElsewhere = (r: R, e: E): boolean => [...(citedBy.get(`${r.digits}/${e.numero}`) ?? [])].some((i) => i !== r.index) && !refNumbers(r, '52').includes(e.numero);
  const grSubsets = new Set<string>();
  for (const r of docs) {
    const cands = expected
      .filter((e) => e.kind === 'goods_receipt' && rutRelation(r, e) !== 'typo' && rutRelation(r, e) !== null && e.day <= r.day + 5 && e.day >= r.day - 2 * o.dateWindowDays && e.total < r.total && !citedElsewhere(r, e))
      .sort((a, b) => refRank(r, '52', a) - refRank(r, '52', b) || Math.abs(a.day - r.day) - Math.abs(b.day - r.day) || a.index - b.index);
    const sub = subsetSum(cands.map((e) => e.total), r.total, tolerance(o, r.items.length), o.maxParts);
    if (sub) for (const i of sub) grSubsets.add(`${r.index}/${cands[i]!.index}`);
  }

  const vb = assign(scoreAll('vendor_bill', new Set()), 1, o.threshold);
  // Invoices a vendor bill names by folio and amount are explained: an OC or guía joins them only by number.
  const explained = new Set([...vb.values()].filter((p) => p.s.strong).map((p) => p.row));
  const po = assign(scoreAll('purchase_order', poSubsets, explained), o.maxParts, o.threshold, {
    amountOf: (p) => received[p.row]!.total,
    capOf: (c) => expected[c]!.total,
    tolOf: (c) => tolerance(o, expected[c]!.lines.length),
  });
  const gr = assign(scoreAll('goods_receipt', grSubsets, explained), o.maxParts, o.threshold, {
    amountOf: (p) => expected[p.row]!.total,
    capOf: (c) => received[c]!.total,
    tolOf: (c) => tolerance(o, received[c]!.items.length),
  });

  // Never fill a PO above its total (nor an invoice above its with receipts): the assignment keeps to
  // that; this only acts where its search ran out of budget or was greedy, dropping the weakest.
  const trim = (m: Map<number, Pair>, groupOf: (p: Pair) => number, amountOf: (p: Pair) => number, capOf: (g: number) => number, tolOf: (g: number) => number) => {
    const groups = new Map<number, Pair[]>();
    for (const p of m.values()) groups.set(groupOf(p), [...(groups.get(groupOf(p)) ?? []), p]);
    for (const [g, list] of groups) {
      if (list.length < 2) continue;
      list.sort((a, b) => b.s.score - a.s.score || a.row - b.row);
      while (list.length > 1 && list.reduce((a, p) => a + amountOf(p), 0) > capOf(g) + tolOf(g) * list.length) m.delete(list.pop()!.row);
    }
  };
  trim(po, (p) => p.col, (p) => received[p.row]!.total, (g) => expected[g]!.total, (g) => tolerance(o, expected[g]!.lines.length));
  trim(gr, (p) => p.col, (p) => expected[p.row]!.total, (g) => received[g]!.total, (g) => tolerance(o, received[g]!.items.length));

  // RCV: the SII's own folio, so looked up by issuer, type and folio.
  const rcvByKey = new Map<string, C[]>();
  for (const c of rcv) rcvByKey.set(`${c.digits}/${c.tipo}/${c.folio}`, [...(rcvByKey.get(`${c.digits}/${c.tipo}/${c.folio}`) ?? []), c]);
  const rcvPairs: Pair[] = [];
  for (const r of active) {
    for (const c of rcvByKey.get(`${r.digits}/${r.tipo}/${r.folio}`) ?? []) {
      const s = scoreRcv(r, c, o);
      if (s) rcvPairs.push({ row: r.index, col: c.index, s });
    }
  }
  const rc = assign(rcvPairs, 1, Math.min(o.threshold, 0.5));

  // Per received document: its ERP links.
  const links = new Map<number, Array<{ e: E; s: PairScore }>>();
  const add = (r: number, e: E, s: PairScore) => links.set(r, [...(links.get(r) ?? []), { e, s }]);
  for (const p of vb.values()) add(p.row, expected[p.col]!, p.s);
  for (const p of po.values()) add(p.row, expected[p.col]!, p.s);
  for (const p of gr.values()) add(p.col, expected[p.row]!, p.s);
  const invoicesOfPo = new Map<number, R[]>();
  for (const p of po.values()) invoicesOfPo.set(p.col, [...(invoicesOfPo.get(p.col) ?? []), received[p.row]!]);
  const receiptsOf = new Map<number, number>();
  for (const p of gr.values()) receiptsOf.set(p.col, (receiptsOf.get(p.col) ?? 0) + 1);

  const matches: Match[] = [];
  const unmatchedReceived: UnmatchedReceived[] = [];
  const rcvId = (r: R): string | null => {
    const p = rc.get(r.index);
    return p ? rcv[p.col]!.id : null;
  };
  const rcvText = (r: R): string => {
    const p = rc.get(r.index);
    return p ? ` | ${p.s.evidence.join('; ')}` : ' | no figura en el RCV';
  };

  for (const r of docs) {
    const l = links.get(r.index);
    if (!l) {
      const b = best.get(r.id);
      const reason = b ? `ningún documento del ERP sobre el umbral (mejor ${b.score.toFixed(2)}: ${b.other})` : `el ERP no espera documentos de ${r.rut} con ese folio, referencia o monto`;
      unmatchedReceived.push({ id: r.id, rcv: rcvId(r), reason });
      continue;
    }
    l.sort((a, b) => a.e.index - b.e.index);
    const score = l.reduce((a, x) => a + x.s.score, 0) / l.length;
    const partial = l.some((x) => {
      if (x.e.kind === 'purchase_order') return (invoicesOfPo.get(x.e.index)?.length ?? 0) > 1 || r.total < x.e.total - tolerance(o, x.e.lines.length);
      return x.e.kind === 'goods_receipt' && (receiptsOf.get(r.index) ?? 0) > 1;
    });
    const kind: MatchKind = partial ? 'partial' : l.every((x) => x.s.score >= 0.9 && !x.s.rutTypo) ? 'exact' : 'fuzzy';
    const explanation = l.map((x) => `${label(x.e)}: ${x.s.evidence.join('; ')}`).join(' | ') + rcvText(r);
    matches.push({ received: r.id, expected: l.map((x) => x.e.id), rcv: rcvId(r), score: round(score), kind, explanation });
  }

  // Notes adjust the invoice they reference.
  const docByKey = new Map(docs.map((r) => [`${r.digits}/${r.tipo}/${r.folio}`, r]));
  const adjustments = new Map<number, number>();
  for (const n of notes) {
    const refs = (n.src.referencias ?? []).filter((x) => INVOICE_TIPOS.has(String(x.tipoDocumento).trim()));
    let target: R | undefined;
    let codigo: number | undefined;
    let typo = false;
    for (const ref of refs) {
      target = docByKey.get(`${n.digits}/${String(ref.tipoDocumento).trim()}/${String(ref.folio).replace(/\D/g, '').replace(/^0+(?=\d)/, '')}`);
      codigo = ref.codigo;
      if (target) break;
    }
    if (!target) {
      // FolioRef typed wrong (a digit off, two transposed): the one invoice of the issuer and type whose
      // folio is that near, whose date is the reference's FchRef when given, and whose amount fits the
      // note (a CodRef 1 cancels it to the peso; a partial note is below it). Never nearness alone.
      for (const ref of refs) {
        const folio = docNumber(ref.folio);
        const tipo = Number(String(ref.tipoDocumento).trim());
        const near = docs.filter(
          (r) =>
            r.digits === n.digits &&
            r.tipo === tipo &&
            numberSimilarity(String(r.folio), folio) > 0 &&
            (ref.fecha === undefined || dayNumber(ref.fecha) === r.day) &&
            (ref.codigo === 1 ? Math.abs(r.total - n.total) <= tolerance(o, r.items.length) : ref.fecha !== undefined && n.total <= r.total),
        );
        if (near.length === 1) {
          target = near[0];
          codigo = ref.codigo;
          typo = true;
          break;
        }
      }
    }
    if (!target) {
      const reason = refs.length === 0 ? 'nota sin referencia a una factura' : `la factura referenciada (${refs.map((x) => `${x.tipoDocumento} N° ${x.folio}`).join(', ')}) no está entre los DTE recibidos`;
      unmatchedReceived.push({ id: n.id, rcv: rcvId(n), reason });
      continue;
    }
    const sign = n.tipo === 61 ? -1 : 1;
    const effect = codigo === 2 ? 0 : sign * n.total;
    adjustments.set(target.index, (adjustments.get(target.index) ?? 0) + effect);
    const what = codigo === 1 ? 'anula' : codigo === 2 ? 'corrige texto de' : n.tipo === 61 ? 'rebaja' : 'aumenta';
    const pos = [...po.values()].filter((p) => p.row === target.index).map((p) => expected[p.col]!);
    const amountOk = codigo !== 1 || Math.abs(n.total - target.total) <= tolerance(o, target.items.length);
    const explanation =
      `nota ${n.tipo === 61 ? 'de crédito' : 'de débito'} ${what} la factura ${target.tipo} N° ${target.folio} (${target.id})` +
      (typo ? `, referenciada con error de digitación (${refs.map((x) => x.folio).join(', ')}) y misma fecha` : '') +
      `; RUT coincide; monto ${pesos(n.total)}` +
      (codigo === 1 ? (amountOk ? ' = total de la factura' : ` ≠ total de la factura ${pesos(target.total)}`) : '') +
      (pos.length > 0 ? `; ajusta el pendiente de ${pos.map(label).join(', ')}` : '') +
      rcvText(n);
    matches.push({ received: n.id, expected: pos.map((e) => e.id), rcv: rcvId(n), score: (amountOk ? 1 : 0.8) * (typo ? 0.9 : 1), kind: 'credit_note', adjusts: target.id, explanation });
  }
  for (const [i, first] of dupOf) {
    const r = received[i]!;
    unmatchedReceived.push({ id: r.id, rcv: null, reason: `duplicado de ${first.id} (mismo emisor, tipo y folio)` });
  }

  const linked = new Set<number>();
  for (const m of [vb, po]) for (const p of m.values()) linked.add(p.col);
  for (const p of gr.values()) linked.add(p.row);
  const unmatchedExpected: Unmatched[] = expected
    .filter((e) => !linked.has(e.index))
    .map((e) => {
      const b = best.get(e.id);
      return { id: e.id, reason: b ? `ningún DTE recibido sobre el umbral (mejor ${b.score.toFixed(2)}: ${b.other})` : `no hay DTE recibido de ${e.rut} con su número o monto` };
    });
  const rcvLinked = new Set([...rc.values()].map((p) => p.col));
  const unmatchedRcv: Unmatched[] = rcv.filter((c) => !rcvLinked.has(c.index)).map((c) => ({ id: c.id, reason: `el RCV registra ${c.tipo} N° ${c.folio} de ${c.src.rutEmisor} pero no se recibió ese DTE` }));

  const remaining: Remaining[] = expected
    .filter((e) => e.kind === 'purchase_order')
    .map((e) => {
      const inv = (invoicesOfPo.get(e.index) ?? []).sort((a, b) => a.index - b.index);
      const facturado = inv.reduce((a, r) => a + r.total, 0);
      const ajustes = inv.reduce((a, r) => a + (adjustments.get(r.index) ?? 0), 0);
      return { purchaseOrder: e.id, numero: e.src.numero === undefined ? null : String(e.src.numero), montoTotal: e.total, facturado, ajustes, pendiente: e.total - facturado - ajustes, invoices: inv.map((r) => r.id) };
    });

  const order = new Map(received.map((r) => [r.id, r.index]));
  matches.sort((a, b) => order.get(a.received)! - order.get(b.received)!);
  unmatchedReceived.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return { matches, unmatchedReceived, unmatchedExpected, unmatchedRcv, remaining };
}

/** 0 when the invoice's referencias name the document's number, 1 otherwise (a sort key). */
const refRank = (r: R, tipo: string, e: E): number => (e.numero !== '' && refNumbers(r, tipo).includes(e.numero) ? 0 : 1);

const round = (x: number): number => Math.round(x * 1000) / 1000;
