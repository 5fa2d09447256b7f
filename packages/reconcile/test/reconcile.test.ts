/**
 * @timbre/reconcile: each scoring rule on its own, the assignment against greedy, partial
 * deliveries, credit notes, unmatched on every side, duplicates, and hostile input.
 */
import { TimbreError } from '@timbre/dte';
import { describe, expect, it } from 'vitest';
import {
  assign,
  canonicalRut,
  checkOptions,
  docNumber,
  hungarian,
  naiveReconcile,
  normExpected,
  normReceived,
  numberSimilarity,
  oneEditApart,
  pesos,
  reconcile,
  scorePair,
  subsetSum,
  textSimilarity,
  type ExpectedDoc,
  type ReceivedDte,
} from '../src/index.js';

const RUT = '76086428-5';
const OTHER = '77894717-K';
const opts = checkOptions(undefined);

/** An invoice of `neto` (IVA 19 %, rounded). */
function inv(folio: number, neto: number, extra: Partial<ReceivedDte> = {}): ReceivedDte {
  const iva = Math.round(neto * 0.19);
  return { id: `F${folio}`, tipoDte: 33, folio, rutEmisor: RUT, fechaEmision: '2026-03-10', montoNeto: neto, iva, montoTotal: neto + iva, ...extra };
}
const total = (neto: number) => neto + Math.round(neto * 0.19);
const vb = (id: string, folio: string | number, montoTotal: number, extra: Partial<ExpectedDoc> = {}): ExpectedDoc => ({ id, kind: 'vendor_bill', rutProveedor: RUT, fecha: '2026-03-12', folioFactura: folio, montoTotal, ...extra });
const po = (id: string, numero: string, montoTotal: number, extra: Partial<ExpectedDoc> = {}): ExpectedDoc => ({ id, kind: 'purchase_order', rutProveedor: RUT, fecha: '2026-03-01', numero, montoTotal, ...extra });
const score = (r: ReceivedDte, e: ExpectedDoc, subset = false) => scorePair(normReceived(r, 0), normExpected(e, 0), opts, subset);

describe('normalisation', () => {
  it('RUTs in the formats people type', () => {
    expect(canonicalRut('76.086.428-5')).toBe(RUT);
    expect(canonicalRut('760864285')).toBe(RUT);
    expect(canonicalRut('77.894.717-k')).toBe(OTHER);
    expect(canonicalRut('abc')).toBeNull();
  });
  it('document numbers without prefixes and leading zeros; typos one edit apart', () => {
    expect(docNumber('OC-0004500123')).toBe('4500123');
    expect(docNumber(' OC 4500123 ')).toBe('4500123');
    expect(numberSimilarity('4500123', '4500123')).toBe(1);
    expect(numberSimilarity('4500123', '4500132')).toBe(0.6); // transposition
    expect(numberSimilarity('4500123', '4500129')).toBe(0.6); // one digit
    expect(numberSimilarity('4500123', '4511123')).toBe(0);
    expect(oneEditApart('1234', '124')).toBe(true);
    expect(oneEditApart('1234', '4321')).toBe(false);
  });
  it('Spanish text: accents, case and stop words do not matter', () => {
    expect(textSimilarity('Neumático 295/80 R22.5', 'NEUMATICO 295/80 r22.5')).toBe(1);
    expect(textSimilarity('Cemento Polpaico saco de 25 kg', 'cemento polpaico saco 25 kg')).toBe(1);
    expect(textSimilarity('Cemento Polpaico', 'Pintura látex')).toBe(0);
  });
  it('amounts printed the Chilean way', () => {
    expect(pesos(1190000)).toBe('1.190.000');
    expect(pesos(-5)).toBe('-5');
  });
});

describe('scoring rules', () => {
  it('another issuer is never a candidate; RUT formats are the same issuer', () => {
    expect(score(inv(10, 100_000), vb('E', 10, total(100_000), { rutProveedor: OTHER }))).toBeNull();
    expect(score(inv(10, 100_000), vb('E', 10, total(100_000), { rutProveedor: '76.086.428-5' }))?.evidence[0]).toBe('RUT coincide');
  });
  it('a hand-typed RUT one digit off passes only with the folio and the amount agreeing', () => {
    const typo = '76086482-5';
    const strong = score(inv(10, 100_000), vb('E', 10, total(100_000), { rutProveedor: typo }));
    expect(strong?.rutTypo).toBe(true);
    expect(strong?.evidence[0]).toMatch(/error de digitación/);
    expect(score(inv(10, 100_000), vb('E', 10, total(100_000) + 500, { rutProveedor: typo }))).toBeNull();
    expect(score(inv(10, 100_000), vb('E', 11, total(100_000), { rutProveedor: typo }))).toBeNull();
  });
  it('amounts: rounding within tolerance agrees, more does not', () => {
    const ok = score(inv(10, 100_000), vb('E', 10, total(100_000) + 2))!;
    const off = score(inv(10, 100_000), vb('E', 10, total(100_000) + 50))!;
    expect(ok.amountOk).toBe(true);
    expect(off.amountOk).toBe(false);
    expect(ok.score).toBeGreaterThan(off.score);
  });
  it('folio typo scores below the exact folio, above a wrong one (which needs the amount)', () => {
    const exact = score(inv(1234, 100_000), vb('E', 1234, total(100_000)))!.score;
    const typo = score(inv(1234, 100_000), vb('E', 1243, total(100_000)))!.score;
    const wrong = score(inv(1234, 100_000), vb('E', 9999, total(100_000)))!.score;
    expect(exact).toBeGreaterThan(typo);
    expect(typo).toBeGreaterThan(wrong);
    expect(score(inv(1234, 100_000), vb('E', 9999, total(100_000) + 1000))).toBeNull();
  });
  it('dates: the closer the better', () => {
    const near = score(inv(10, 100_000), vb('E', 10, total(100_000), { fecha: '2026-03-11' }))!.score;
    const far = score(inv(10, 100_000), vb('E', 10, total(100_000), { fecha: '2026-04-05' }))!.score;
    expect(near).toBeGreaterThan(far);
  });
  it('reference 801 equals the OC number despite prefixes; another OC number excludes', () => {
    const withRef = (folio: string) => inv(10, 50_000, { referencias: [{ tipoDocumento: '801', folio }] });
    const s = score(withRef('OC-0004500123'), po('P', '4500123', total(100_000)))!;
    expect(s.evidence).toContain('referencia 801 N° 4500123');
    expect(s.evidence.join('; ')).toMatch(/monto 59\.500 parcial de OC 4500123/);
    expect(score(withRef('4500999'), po('P', '4500123', total(100_000)))).toBeNull();
    // No reference and not the amount: nothing identifies it.
    expect(score(inv(10, 50_000), po('P', '4500123', total(100_000)))).toBeNull();
  });
  it('line similarity counts items found among the ERP lines', () => {
    const r = inv(10, 100_000, { items: [{ nombre: 'Cemento Polpaico saco 25 kg' }, { nombre: 'Pintura látex blanca galón' }] });
    const s = score(r, po('P', '1', total(100_000), { lines: [{ descripcion: 'CEMENTO POLPAICO SACO 25KG' }, { descripcion: 'Fierro estriado 12 mm' }] }))!;
    expect(s.evidence).toContain('1/2 líneas similares');
  });
});

describe('assignment', () => {
  it('hungarian finds the minimum cost (brute force on 5×5)', () => {
    const m = [
      [7, 3, 9, 4, 8],
      [2, 6, 5, 8, 7],
      [9, 4, 3, 6, 2],
      [5, 8, 7, 1, 9],
      [6, 2, 8, 7, 4],
    ];
    const a = hungarian(m);
    const cost = a.reduce((s, j, i) => s + m[i]![j]!, 0);
    let best = Infinity;
    const perm = (used: number[], acc: number) => {
      if (used.length === 5) best = Math.min(best, acc);
      for (let j = 0; j < 5; j++) if (!used.includes(j)) perm([...used, j], acc + m[used.length]![j]!);
    };
    perm([], 0);
    expect(cost).toBe(best);
    expect(new Set(a).size).toBe(5);
  });

  it('beats greedy: the best pair first would leave one row unmatched', () => {
    const s = (score: number) => ({ score, strong: false, amountOk: true, rutTypo: false, evidence: [] });
    // Row 0 prefers column 0 (0.9) but can also take column 1 (0.85); row 1 has only column 0 (0.8).
    const pairs = [
      { row: 0, col: 0, s: s(0.9) },
      { row: 0, col: 1, s: s(0.85) },
      { row: 1, col: 0, s: s(0.8) },
    ];
    const a = assign(pairs, 1, 0.6);
    expect(a.get(0)?.col).toBe(1);
    expect(a.get(1)?.col).toBe(0);
  });

  it('with real documents: the folios decide where first come by amount goes wrong', () => {
    // F101 and F110 both 119.000. X was typed with folio 110 (F110 exactly), Y with 191 (one digit off
    // 101). First come by amount gives F101→X and F110→Y, both wrong; the assignment takes the folios.
    const received = [inv(101, 100_000), inv(110, 100_000)];
    const expected = [vb('X', 110, total(100_000)), vb('Y', 191, total(100_000))];
    const res = reconcile({ received, expected });
    const got = Object.fromEntries(res.matches.map((m) => [m.received, m.expected]));
    expect(got).toEqual({ F101: ['Y'], F110: ['X'] });
    const naive = naiveReconcile({ received, expected });
    expect(naive.map((l) => `${l.received}:${l.expected}`)).toEqual(['F101:X', 'F110:Y']); // first come: both wrong
  });

  it('subset-sum finds the parts adding up to a total, within tolerance per part', () => {
    expect(subsetSum([500, 300, 200, 700], 1000, 1, 4)).toEqual([1, 3]);
    expect(subsetSum([500, 301, 200], 1001, 1, 4)).toEqual([0, 1, 2]);
    expect(subsetSum([500, 300], 5000, 1, 4)).toBeNull();
  });
});

describe('reconcile', () => {
  it('exact match with the Spanish explanation and the RCV entry', () => {
    const r = inv(4501, 1_000_000, { items: [{ nombre: 'Silla ergonómica oficina' }], referencias: [{ tipoDocumento: 801, folio: 'OC-4500123', fecha: '2026-03-01' }], fechaEmision: '2026-03-03' });
    const res = reconcile({
      received: [r],
      expected: [po('OC1', '4500123', 1_190_000, { lines: [{ descripcion: 'SILLA ERGONOMICA OFICINA' }] })],
      rcv: [{ id: 'C1', rutEmisor: '76.086.428-5', tipoDte: 33, folio: 4501, fechaEmision: '2026-03-03', montoTotal: 1_190_000, estado: 'REGISTRO' }],
    });
    expect(res.matches).toHaveLength(1);
    const m = res.matches[0]!;
    expect(m).toMatchObject({ received: 'F4501', expected: ['OC1'], rcv: 'C1', kind: 'exact' });
    expect(m.score).toBeGreaterThan(0.9);
    expect(m.explanation).toContain('RUT coincide; referencia 801 N° 4500123; monto total 1.190.000 = OC 4500123 (diferencia 0); fecha a 2 días; 1/1 líneas similares');
    expect(res.remaining).toEqual([{ purchaseOrder: 'OC1', numero: '4500123', montoTotal: 1_190_000, facturado: 1_190_000, ajustes: 0, pendiente: 0, invoices: ['F4501'] }]);
  });

  it('partial deliveries: one OC, three invoices (one without reference), a partial credit note', () => {
    const ref = [{ tipoDocumento: 801, folio: '4500123' }];
    const received = [
      inv(1, 400_000, { referencias: ref }),
      inv(2, 350_000, { referencias: ref, fechaEmision: '2026-03-15' }),
      inv(3, 250_000, { fechaEmision: '2026-03-20' }), // no reference: found by the subset-sum
      inv(4, 90_000, { fechaEmision: '2026-03-21' }), // another purchase of the same supplier
      { id: 'NC9', tipoDte: 61, folio: 9, rutEmisor: RUT, fechaEmision: '2026-03-25', montoNeto: 50_000, iva: 9_500, montoTotal: 59_500, referencias: [{ tipoDocumento: '33', folio: 2, codigo: 3 }] },
    ];
    const poTotal = total(400_000) + total(350_000) + total(250_000) + 1; // the ERP rounded once
    const res = reconcile({ received, expected: [po('OC', '4500123', poTotal)] });
    const byId = Object.fromEntries(res.matches.map((m) => [m.received, m]));
    for (const id of ['F1', 'F2', 'F3']) expect(byId[id]).toMatchObject({ expected: ['OC'], kind: 'partial' });
    expect(byId.F3!.explanation).toMatch(/parte de una suma que cuadra con OC 4500123/);
    expect(byId.NC9).toMatchObject({ kind: 'credit_note', adjusts: 'F2', expected: ['OC'] });
    expect(byId.NC9!.explanation).toMatch(/nota de crédito rebaja la factura 33 N° 2/);
    expect(res.unmatchedReceived.map((u) => u.id)).toEqual(['F4']);
    expect(res.remaining[0]).toMatchObject({ facturado: poTotal - 1, ajustes: -59_500, pendiente: 1 + 59_500, invoices: ['F1', 'F2', 'F3'] });
  });

  it('two goods receipts, one invoice', () => {
    const gr = (id: string, numero: string, neto: number): ExpectedDoc => ({ id, kind: 'goods_receipt', rutProveedor: RUT, fecha: '2026-03-05', numero, montoTotal: total(neto) });
    const res = reconcile({ received: [inv(77, 300_000)], expected: [gr('G1', '5001', 100_000), gr('G2', '5002', 200_000)] });
    expect(res.matches[0]).toMatchObject({ received: 'F77', expected: ['G1', 'G2'], kind: 'partial' });
    expect(res.unmatchedExpected).toEqual([]);
  });

  it('a total credit note (CodRef 1) names the invoice it cancels; a note for an invoice not received is unmatched', () => {
    const received = [
      inv(5, 100_000),
      { id: 'NC1', tipoDte: 61, folio: 1, rutEmisor: RUT, fechaEmision: '2026-03-20', montoTotal: total(100_000), referencias: [{ tipoDocumento: 33, folio: '5', codigo: 1 }] },
      { id: 'NC2', tipoDte: 61, folio: 2, rutEmisor: RUT, fechaEmision: '2026-03-20', montoTotal: 1000, referencias: [{ tipoDocumento: 33, folio: '999', codigo: 3 }] },
    ];
    const res = reconcile({ received });
    expect(res.matches).toEqual([expect.objectContaining({ received: 'NC1', kind: 'credit_note', adjusts: 'F5', score: 1 })]);
    expect(res.matches[0]!.explanation).toMatch(/anula la factura 33 N° 5 .* = total de la factura/);
    expect(res.unmatchedReceived.find((u) => u.id === 'NC2')?.reason).toMatch(/33 N° 999\) no está entre los DTE recibidos/);
  });

  it('unmatched on all three sides, and duplicates set aside', () => {
    const received = [inv(10, 100_000), inv(20, 70_000), { ...inv(10, 100_000), id: 'copy' }];
    const res = reconcile({
      received,
      expected: [vb('V10', 10, total(100_000)), vb('V99', 99, total(123_456)), po('P', '7', 5_000_000, { rutProveedor: OTHER })],
      rcv: [
        { id: 'C10', rutEmisor: RUT, tipoDte: 33, folio: 10, fechaEmision: '2026-03-10', montoTotal: total(100_000) },
        { id: 'C55', rutEmisor: RUT, tipoDte: 33, folio: 55, fechaEmision: '2026-03-10', montoTotal: 1 },
      ],
    });
    expect(res.matches.map((m) => [m.received, m.expected, m.rcv])).toEqual([['F10', ['V10'], 'C10']]);
    expect(res.unmatchedReceived).toEqual([
      { id: 'F20', rcv: null, reason: expect.stringMatching(/el ERP no espera/) },
      { id: 'copy', rcv: null, reason: 'duplicado de F10 (mismo emisor, tipo y folio)' },
    ]);
    expect(res.unmatchedExpected.map((u) => u.id).sort()).toEqual(['P', 'V99']);
    expect(res.unmatchedRcv).toEqual([{ id: 'C55', reason: expect.stringMatching(/no se recibió/) }]);
  });

  it('deterministic: same input, same output', () => {
    const received = [inv(1, 100_000), inv(2, 100_000), inv(3, 100_000)];
    const expected = [vb('A', 1, total(100_000)), vb('B', 'x', total(100_000)), vb('C', 3, total(100_000))];
    expect(reconcile({ received, expected })).toEqual(reconcile({ received, expected }));
  });
});

describe('hostile input → typed errors naming the field', () => {
  const err = (fn: () => unknown): TimbreError => {
    try {
      fn();
    } catch (e) {
      if (e instanceof TimbreError) return e;
      throw e;
    }
    throw new Error('did not throw');
  };
  it('NaN, strings for numbers, missing fields, bad dates, bad RUTs', () => {
    expect(err(() => reconcile({ received: [inv(1, 1), { ...inv(2, 1), montoTotal: NaN }] })).field).toBe('received[1].montoTotal');
    expect(err(() => reconcile({ received: [{ ...inv(1, 1), folio: '7' as unknown as number }] })).field).toBe('received[0].folio');
    const { rutEmisor: _r, ...noRut } = inv(1, 1);
    expect(err(() => reconcile({ received: [noRut as ReceivedDte] })).field).toBe('received[0].rutEmisor');
    expect(err(() => reconcile({ received: [{ ...inv(1, 1), fechaEmision: '2026-02-30' }] })).field).toBe('received[0].fechaEmision');
    const bad = err(() => reconcile({ received: [], expected: [vb('V', 1, 1, { rutProveedor: 'N/A' })] }));
    expect([bad.code, bad.field]).toEqual(['ERR_RUT_INVALID', 'expected[0].rutProveedor']);
    expect(err(() => reconcile({ received: [{ ...inv(1, 1), tipoDte: 39 }] })).field).toBe('received[0].tipoDte');
    expect(err(() => reconcile({ received: [{ ...inv(1, 1), items: [{ nombre: 5 as unknown as string }] }] })).field).toBe('received[0].items[0].nombre');
    expect(err(() => reconcile({ received: [], expected: [vb('V', 1, 1), vb('V', 2, 2)] })).field).toBe('expected[1].id');
    expect(err(() => reconcile({ received: [], expected: [{ ...vb('V', 1, 1), kind: 'invoice' as 'vendor_bill' }] })).field).toBe('expected[0].kind');
    expect(err(() => reconcile(null as unknown as { received: [] })).field).toBe('input');
    expect(err(() => reconcile({ received: 'x' as unknown as [] })).field).toBe('received');
    expect(err(() => reconcile({ received: [] }, { threshold: 2 })).field).toBe('options.threshold');
  });
  it('lists above the limit are refused before any work', () => {
    const many = Array.from({ length: 5001 }, (_, k) => inv(k + 1, 1));
    expect(err(() => reconcile({ received: many })).message).toMatch(/at most 5000/);
  });
  it('2,000 indistinguishable documents of one supplier: bounded time, one-to-one, no crash', () => {
    const received = Array.from({ length: 2000 }, (_, k) => inv(1000 + k, 100_000));
    const expected = Array.from({ length: 2000 }, (_, k) => vb(`E${k}`, 'sin folio', total(100_000)));
    const t0 = performance.now();
    const res = reconcile({ received, expected });
    expect(performance.now() - t0).toBeLessThan(15_000);
    const used = res.matches.flatMap((m) => m.expected);
    expect(new Set(used).size).toBe(used.length);
    expect(used.length).toBeGreaterThan(1800);
    expect(res.matches[0]!.explanation).toMatch(/asignación aproximada/);
  });
});
