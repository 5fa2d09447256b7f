/**
 * The general fixes found by the blind adversarial evaluation (eval/generate-adversarial.js), one case
 * each that the engine got wrong before: capacity inside the assignment (not trimmed after), guías
 * named by another invoice, a wrong check digit on the right RUT number, an open OC's delivery found
 * by its lines, lines that contradict an amount, a credit note's FolioRef typo, the billed month of a
 * recurring service, and an invoice a vendor bill already accounts for.
 */
import { describe, expect, it } from 'vitest';
import { assign, checkOptions, normExpected, normReceived, reconcile, scorePair, textSimilarity, type ExpectedDoc, type ReceivedDte, type ReceivedItem } from '../src/index.js';

const RUT = '76086428-5';
const opts = checkOptions(undefined);
const total = (neto: number) => neto + Math.round(neto * 0.19);
const neto = (items: ReceivedItem[]) => items.reduce((a, it) => a + (it.cantidad ?? 0) * (it.precioUnitario ?? 0), 0);

/** An invoice of these items (IVA on the total), optionally citing documents. */
function inv(id: string, folio: number, fecha: string, items: ReceivedItem[], referencias?: ReceivedDte['referencias']): ReceivedDte {
  const n = neto(items);
  return { id, tipoDte: 33, folio, rutEmisor: RUT, fechaEmision: fecha, montoNeto: n, iva: total(n) - n, montoTotal: total(n), items, ...(referencias ? { referencias } : {}) };
}
/** An ERP document (OC or guía) with these lines. */
function doc(id: string, kind: 'purchase_order' | 'goods_receipt', numero: string, fecha: string, items: ReceivedItem[]): ExpectedDoc {
  return { id, kind, rutProveedor: '76.086.428-5', fecha, numero, montoTotal: total(neto(items)), lines: items.map((it) => ({ descripcion: it.nombre.toUpperCase(), cantidad: it.cantidad, precioUnitario: it.precioUnitario })) };
}
const X = { nombre: 'Cemento Polpaico saco 25 kg', cantidad: 10, precioUnitario: 10_000 };
const Y = { nombre: 'Tóner impresora HP 85A', cantidad: 5, precioUnitario: 40_000 };
const Z = { nombre: 'Guantes de nitrilo caja 100', cantidad: 8, precioUnitario: 5_000 };
const links = (res: ReturnType<typeof reconcile>) => Object.fromEntries(res.matches.map((m) => [m.received, m.adjusts ?? m.expected]));

describe('capacity is part of the assignment', () => {
  const s = (score: number) => ({ score, strong: false, amountOk: true, rutTypo: false, evidence: [] });
  // Row 0 fits column 0 best (0.99) and column 1 too (0.95); row 1 only column 0 (0.93). Each row is
  // column 0's full amount, so column 0 can take one of them.
  const pairs = () => [
    { row: 0, col: 0, s: s(0.99) },
    { row: 0, col: 1, s: s(0.95) },
    { row: 1, col: 0, s: s(0.93) },
  ];
  const capacity = { amountOf: () => 100, capOf: () => 100, tolOf: () => 2 };

  it('branches on which row leaves an overfilled column, and finds the pairing that keeps both', () => {
    const a = assign(pairs(), 4, 0.6, capacity);
    expect([a.get(0)?.col, a.get(1)?.col]).toEqual([1, 0]);
    // Without the capacity, both rows land in column 0's slots (what trimming afterwards had to undo).
    const b = assign(pairs(), 4, 0.6);
    expect([b.get(0)?.col, b.get(1)?.col]).toEqual([0, 0]);
  });

  it('repeat orders: the invoice that names no OC takes the other one, though nearest to the cited OC', () => {
    const res = reconcile({
      received: [inv('A', 501, '2026-03-05', [X]), inv('B', 512, '2026-03-21', [X], [{ tipoDocumento: 801, folio: 'OC-4500107' }])],
      expected: [doc('Q', 'purchase_order', '4500100', '2026-03-01', [X]), doc('P', 'purchase_order', '4500107', '2026-03-04', [X])],
    });
    expect(links(res)).toEqual({ A: ['Q'], B: ['P'] });
  });

  it('weekly guías: the invoice that names none gets the guías no other invoice names', () => {
    const res = reconcile({
      received: [inv('A', 601, '2026-03-11', [X, Y]), inv('B', 602, '2026-03-13', [X, Y], [{ tipoDocumento: 52, folio: '5003' }, { tipoDocumento: 52, folio: '5004' }])],
      expected: [doc('g1', 'goods_receipt', '5001', '2026-03-02', [X]), doc('g2', 'goods_receipt', '5002', '2026-03-03', [Y]), doc('g3', 'goods_receipt', '5003', '2026-03-09', [X]), doc('g4', 'goods_receipt', '5004', '2026-03-10', [Y])],
    });
    expect(links(res)).toEqual({ A: ['g1', 'g2'], B: ['g3', 'g4'] });
  });
});

describe('scoring', () => {
  it('a wrong check digit on the right RUT number is the same issuer (flagged), even with a folio typo', () => {
    const f = inv('F', 36221, '2026-06-19', [X]);
    const res = reconcile({ received: [f], expected: [{ id: 'V', kind: 'vendor_bill', rutProveedor: '76086428-4', fecha: '2026-06-20', folioFactura: '36212', montoTotal: f.montoTotal }] });
    expect(res.matches[0]).toMatchObject({ received: 'F', expected: ['V'], kind: 'fuzzy' });
    expect(res.matches[0]!.explanation).toMatch(/salvo el dígito verificador/);
  });

  it('an open OC: an unreferenced delivery is found by its lines; a single line in another quantity is not', () => {
    const res = reconcile({
      received: [inv('F1', 701, '2026-04-10', [X, Y]), inv('F2', 702, '2026-04-12', [{ ...Z, cantidad: 3 }])],
      expected: [doc('OC', 'purchase_order', '4500200', '2026-04-01', [X, Y, Z])],
    });
    expect(links(res)).toEqual({ F1: ['OC'] });
    expect(res.matches[0]).toMatchObject({ kind: 'partial' });
    expect(res.matches[0]!.explanation).toMatch(/líneas contenidas en OC 4500200/);
    expect(res.remaining[0]).toMatchObject({ facturado: total(300_000), pendiente: total(340_000) - total(300_000) });
  });

  it('lines that all disagree veto an amount-only match; a cited number still links', () => {
    const f = inv('F', 801, '2026-07-08', [X]);
    const oc: ExpectedDoc = { ...doc('OC', 'purchase_order', '4500300', '2026-07-03', [{ ...Y, cantidad: 1 }]), montoTotal: f.montoTotal + 2 };
    expect(scorePair(normReceived(f, 0), normExpected(oc, 0), opts)).toBeNull();
    const cited = { ...f, referencias: [{ tipoDocumento: 801, folio: '4500300' }] };
    expect(scorePair(normReceived(cited, 0), normExpected(oc, 0), opts)?.score).toBeGreaterThan(0.6);
  });

  it('a recurring service: the billed month tells the OCs apart, not the nearest date', () => {
    const month = (m: string) => [{ nombre: `Arriendo bodega Quilicura ${m} 2026`, cantidad: 1, precioUnitario: 1_300_000 }];
    expect(textSimilarity('Arriendo bodega marzo 2026', 'ARRIENDO BODEGA ABRIL 2026')).toBe(0);
    expect(textSimilarity('Arriendo bodega marzo 2026', 'ARRIENDO BODEGA MARZO 2026')).toBe(1);
    // Billed in arrears: March's invoice is issued on 2 April, a day after April's OC.
    const res = reconcile({
      received: [inv('marzo', 901, '2026-04-02', month('marzo'))],
      expected: [doc('OCmar', 'purchase_order', '4500400', '2026-03-01', month('marzo')), doc('OCabr', 'purchase_order', '4500431', '2026-04-01', month('abril'))],
    });
    expect(links(res)).toEqual({ marzo: ['OCmar'] });
  });

  it('an invoice a vendor bill accounts for by folio and amount joins an OC only by the number it cites', () => {
    const f = inv('F', 1001, '2026-05-09', [X, Y]);
    const res = reconcile({
      received: [f],
      expected: [{ id: 'V', kind: 'vendor_bill', rutProveedor: RUT, fecha: '2026-05-09', folioFactura: '1001', montoTotal: f.montoTotal }, doc('OC', 'purchase_order', '4500500', '2026-04-10', [X, Y])],
    });
    expect(links(res)).toEqual({ F: ['V'] });
    const cited = reconcile({ received: [{ ...f, referencias: [{ tipoDocumento: 801, folio: '4500500' }] }], expected: [{ id: 'V', kind: 'vendor_bill', rutProveedor: RUT, fecha: '2026-05-09', folioFactura: '1001', montoTotal: f.montoTotal }, doc('OC', 'purchase_order', '4500500', '2026-04-10', [X, Y])] });
    expect(links(cited)).toEqual({ F: ['V', 'OC'] });
  });
});

describe('credit notes', () => {
  const f = inv('F', 4512, '2026-03-10', [X]);
  const nc = (id: string, folio: number, ref: { folio: string; fecha?: string; codigo: number }, montoTotal = f.montoTotal): ReceivedDte => ({ id, tipoDte: 61, folio, rutEmisor: RUT, fechaEmision: '2026-03-20', montoTotal, referencias: [{ tipoDocumento: 33, ...ref }] });

  it('a FolioRef typo is read as the invoice whose folio is that near and whose date is the FchRef', () => {
    const res = reconcile({ received: [f, nc('N1', 7, { folio: '4521', fecha: '2026-03-10', codigo: 1 })] });
    expect(links(res).N1).toBe('F');
    expect(res.matches.find((m) => m.received === 'N1')!.explanation).toMatch(/error de digitación \(4521\)/);
  });

  it('nearness alone is not enough: another date, or a CodRef 1 of another amount, stays unmatched', () => {
    const res = reconcile({
      received: [f, nc('N2', 8, { folio: '4513', fecha: '2026-03-09', codigo: 1 }), nc('N3', 9, { folio: '4521', fecha: '2026-03-10', codigo: 1 }, f.montoTotal - 5000)],
    });
    expect(res.matches.filter((m) => m.kind === 'credit_note')).toEqual([]);
    expect(res.unmatchedReceived.map((u) => u.id).sort()).toEqual(['F', 'N2', 'N3']);
  });
});
