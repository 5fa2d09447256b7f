#!/usr/bin/env node
/**
 * Builds the labelled reconciliation sets eval/data/<scenario>.json (no build needed):
 *   node packages/reconcile/eval/generate.js [--seed 20261204] [--out DIR (default eval/data)]
 *
 * Each scenario is a company's month or quarter of purchases: suppliers (valid RUTs, a catalogue of
 * products), and document flows drawn at random, each leaving its true links as labels:
 * - invoice (33, some 34 exentas) ↔ a vendor bill typed by hand: folio typos (one digit off or two
 *   digits transposed), RUT written `76.086.428-5`, `760864285`, lower-case k, rarely one digit off
 *   (only where the folio is right), totals off by 1–2 pesos, dates some days later;
 * - invoice ↔ purchase order: the OC number in a referencia 801 as `4500123`, `OC-4500123`,
 *   `0004500123`, `OC 4500123` (sometimes with a typo, sometimes absent), lines reworded;
 * - partial deliveries: one OC invoiced in 2–3 invoices (lines split), references present (rarely
 *   with a typo) or not; three in ten OCs still open (the last delivery not invoiced yet);
 * - two goods receipts (guías) ↔ one invoice, with or without referencias 52;
 * - credit notes (61) referencing invoices: total (CodRef 1) or partial (CodRef 3);
 * - noise: duplicated received DTEs, invoices the ERP does not expect, ERP documents never invoiced
 *   with amounts near real ones from the same supplier, RCV entries whose XML never arrived, received
 *   DTEs missing from the RCV.
 * Labels: `labels.expected` [received, expected] pairs, `labels.rcv` [received, rcv] pairs,
 * `labels.adjusts` [note, invoice] pairs. Deterministic: mulberry32 seeded with seed + scenario index.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addDays, dots, dv, generatorArgs, mulberry32 } from './gen-lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { seed: SEED, out: OUT } = generatorArgs(process.argv, 20261204, path.join(here, 'data'));


const SCENARIOS = [
  { name: 'pyme-mes', suppliers: 8, flows: 55, start: '2026-03-01', days: 31 },
  { name: 'distribuidora-trimestre', suppliers: 15, flows: 110, start: '2026-01-01', days: 90 },
  { name: 'retail-trimestre', suppliers: 25, flows: 170, start: '2026-04-01', days: 91 },
];

const PRODUCTS = [
  'Tornillo hexagonal acero 1/4"', 'Pintura látex blanca galón', 'Cemento Polpaico saco 25 kg', 'Cable eléctrico THHN 2,5 mm', 'Guantes de nitrilo caja 100',
  'Resma papel carta 500 hojas', 'Tóner impresora HP 85A', 'Servicio de mantención aire acondicionado', 'Arriendo grúa horquilla día', 'Cajas de cartón corrugado',
  'Aceite hidráulico ISO 68 balde', 'Filtro de aire camión', 'Neumático 295/80 R22.5', 'Café en grano 1 kg', 'Agua purificada bidón 20 L',
  'Silla ergonómica oficina', 'Notebook Lenovo ThinkPad', 'Licencia software contable anual', 'Transporte de carga Santiago–Rancagua', 'Harina sin polvos 25 kg',
  'Azúcar granulada 50 kg', 'Detergente industrial 5 L', 'Plancha OSB 15 mm', 'Perfil de aluminio 6 m', 'Válvula de bola 1"',
];
const NAMES = ['Comercial', 'Distribuidora', 'Ferretería', 'Servicios', 'Importadora', 'Transportes', 'Inversiones', 'Sociedad'];
const LAST = ['Andes', 'del Pacífico', 'Los Aromos', 'Santa Elena', 'Ñuble', 'Austral', 'Cordillera', 'La Frontera', 'Valparaíso', 'Magallanes'];


function scenario(sc, seed) {
  const rnd = mulberry32(seed);
  const int = (a, b) => a + Math.floor(rnd() * (b - a + 1));
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const chance = (p) => rnd() < p;
  const shuffle = (xs) => {
    for (let k = xs.length - 1; k > 0; k--) {
      const j = Math.floor(rnd() * (k + 1));
      [xs[k], xs[j]] = [xs[j], xs[k]];
    }
    return xs;
  };
  const typo = (s) => {
    const a = s.split('');
    const k = int(0, a.length - 2);
    if (chance(0.5) && a[k] !== a[k + 1]) [a[k], a[k + 1]] = [a[k + 1], a[k]];
    else a[k + 1] = String((Number(a[k + 1]) + int(1, 8)) % 10);
    return a.join('');
  };

  const suppliers = Array.from({ length: sc.suppliers }, () => {
    const digits = int(76_000_000, 78_999_999);
    return {
      digits,
      rut: `${digits}-${dv(digits)}`,
      razonSocial: `${pick(NAMES)} ${pick(LAST)} ${pick(['SpA', 'Ltda.', 'S.A.'])}`,
      catalogue: shuffle([...PRODUCTS]).slice(0, 8).map((nombre) => ({ nombre, precio: int(1, 400) * 500 + int(0, 1) * int(1, 499) })),
      folio: int(100, 90_000),
    };
  });
  /** How a person types a supplier's RUT into the ERP. */
  const typedRut = (s, allowTypo) => {
    if (allowTypo && chance(0.06)) {
      const bad = typo(String(s.digits));
      return `${bad}-${dv(s.digits)}`; // one digit off, the original check digit (now wrong)
    }
    const d = dv(s.digits);
    return pick([`${s.digits}-${d}`, `${dots(s.digits)}-${d}`, `${s.digits}${d}`, `${dots(s.digits)}-${d.toLowerCase()}`]);
  };
  const lines = (s, n) =>
    shuffle([...s.catalogue]).slice(0, n).map((p) => ({ nombre: p.nombre, cantidad: int(1, 30), precioUnitario: p.precio }));
  /** ERP wording of a line: same product, other case/accents/abbreviations. */
  const erpText = (t) => {
    let x = t;
    if (chance(0.5)) x = x.toUpperCase();
    if (chance(0.5)) x = x.normalize('NFD').replace(/\p{M}/gu, '');
    if (chance(0.3)) x = `${x} (cód. ${int(1000, 9999)})`;
    return x;
  };
  const totals = (items, exenta) => {
    const neto = items.reduce((a, it) => a + it.cantidad * it.precioUnitario, 0);
    const iva = exenta ? 0 : Math.round(neto * 0.19);
    return exenta ? { montoExento: neto, iva: 0, montoTotal: neto } : { montoNeto: neto, iva, montoTotal: neto + iva };
  };
  const jitter = (n) => (chance(0.3) ? n + pick([-2, -1, 1, 2]) : n);
  const day = () => addDays(sc.start, int(0, sc.days - 1));

  const received = [];
  const expected = [];
  const rcv = [];
  const labels = { expected: [], rcv: [], adjusts: [] };
  let nR = 0;
  let nE = 0;
  let oc = int(4_500_000, 4_590_000);
  let guia = int(1000, 50_000);

  const invoice = (s, items, fecha, refs = [], tipo = chance(0.1) ? 34 : 33) => {
    s.folio += int(1, 25);
    const r = {
      id: `R${++nR}`,
      tipoDte: tipo,
      folio: s.folio,
      rutEmisor: s.rut,
      razonSocial: s.razonSocial,
      fechaEmision: fecha,
      ...totals(items, tipo === 34),
      items: items.map((it) => ({ ...it, montoItem: it.cantidad * it.precioUnitario })),
      ...(refs.length ? { referencias: refs } : {}),
    };
    received.push(r);
    return r;
  };
  const ocRef = (num, fecha) => ({ tipoDocumento: 801, folio: pick([`${num}`, `OC-${num}`, `000${num}`, `OC ${num}`]), fecha });
  const exp = (e) => {
    const full = { id: `E${++nE}`, ...e };
    expected.push(full);
    return full;
  };
  const po = (s, items, fecha) => {
    const num = ++oc + int(0, 30);
    oc = num;
    const t = totals(items, false);
    return exp({ kind: 'purchase_order', rutProveedor: typedRut(s, false), fecha, numero: String(num), montoNeto: t.montoNeto, montoTotal: jitter(t.montoTotal), lines: items.map((it) => ({ descripcion: erpText(it.nombre), cantidad: it.cantidad, precioUnitario: it.precioUnitario })) });
  };
  const link = (r, e) => labels.expected.push([r.id, e.id]);

  for (let f = 0; f < sc.flows; f++) {
    const s = pick(suppliers);
    const fecha = day();
    const u = rnd();
    if (u < 0.34) {
      // Invoice ↔ vendor bill typed by hand.
      const r = invoice(s, lines(s, int(1, 5)), fecha);
      const folioTypo = chance(0.12);
      const e = exp({ kind: 'vendor_bill', rutProveedor: typedRut(s, !folioTypo), fecha: addDays(fecha, int(0, 6)), folioFactura: folioTypo ? typo(String(r.folio)) : chance(0.2) ? `F-${r.folio}` : String(r.folio), montoTotal: jitter(r.montoTotal) });
      link(r, e);
    } else if (u < 0.54) {
      // One OC, one invoice.
      const items = lines(s, int(1, 6));
      const p = po(s, items, addDays(fecha, -int(1, 20)));
      const ref = chance(0.8) ? [ocRef(chance(0.06) ? typo(p.numero) : p.numero, p.fecha)] : [];
      link(invoice(s, items, fecha, ref, 33), p);
    } else if (u < 0.7) {
      // Partial deliveries: one OC, 2–3 invoices.
      const items = lines(s, int(2, 6));
      const p = po(s, items, addDays(fecha, -int(5, 25)));
      const parts = Math.min(items.length, int(2, 3));
      const groups = Array.from({ length: parts }, () => []);
      items.forEach((it, k) => groups[k < parts ? k : int(0, parts - 1)].push(it));
      // Three in ten OCs are still open: the last delivery is not invoiced yet (no subset adds up).
      if (chance(0.3)) groups.pop();
      let d = fecha;
      for (const g of groups) {
        const ref = chance(0.75) ? [ocRef(chance(0.05) ? typo(p.numero) : p.numero, p.fecha)] : [];
        link(invoice(s, g, d, ref, 33), p);
        d = addDays(d, int(2, 15));
      }
    } else if (u < 0.8) {
      // Two goods receipts, one invoice.
      const a = lines(s, int(1, 3));
      const b = lines(s, int(1, 3)).filter((x) => !a.some((y) => y.nombre === x.nombre));
      if (b.length === 0) b.push({ ...a[0], cantidad: a[0].cantidad + 1 });
      const grs = [a, b].map((ls, k) => {
        guia += int(1, 40);
        const t = totals(ls, false);
        return exp({ kind: 'goods_receipt', rutProveedor: typedRut(s, false), fecha: addDays(fecha, -int(1, 10) - k), numero: String(guia), montoNeto: t.montoNeto, montoTotal: t.montoTotal, lines: ls.map((it) => ({ descripcion: erpText(it.nombre), cantidad: it.cantidad, precioUnitario: it.precioUnitario })) });
      });
      const refs = chance(0.6) ? grs.map((g) => ({ tipoDocumento: 52, folio: g.numero, fecha: g.fecha })) : [];
      const r = invoice(s, [...a, ...b], fecha, refs, 33);
      // Totals of the receipts computed separately: IVA rounding may differ from the invoice's by a peso.
      for (const g of grs) link(r, g);
    } else if (u < 0.86) {
      // Invoice the ERP does not expect.
      invoice(s, lines(s, int(1, 4)), fecha);
    } else if (u < 0.93) {
      // ERP document never invoiced, its amount near a real one of the same supplier.
      const near = received.filter((r) => r.rutEmisor === s.rut).pop();
      const base = near ? near.montoTotal : int(100, 5000) * 1000;
      const amount = Math.round(base * (1 + pick([-1, 1]) * (0.02 + rnd() * 0.08)));
      if (chance(0.5)) exp({ kind: 'vendor_bill', rutProveedor: typedRut(s, false), fecha, folioFactura: String(s.folio + int(200, 900)), montoTotal: amount });
      else po(s, lines(s, int(1, 4)), fecha);
    } else {
      // Same supplier, same amount as its last invoice, another folio (a distractor for amount-only).
      const near = received.filter((r) => r.rutEmisor === s.rut && r.tipoDte === 33).pop();
      if (!near) continue;
      const r = invoice(s, near.items.map(({ nombre, cantidad, precioUnitario }) => ({ nombre, cantidad, precioUnitario })), addDays(near.fechaEmision, int(3, 20)), [], 33);
      const e = exp({ kind: 'vendor_bill', rutProveedor: typedRut(s, false), fecha: r.fechaEmision, folioFactura: String(r.folio), montoTotal: r.montoTotal });
      link(r, e);
    }
  }

  // Credit notes on ~12 % of invoices: total (CodRef 1) or partial (CodRef 3).
  for (const r of [...received]) {
    if (r.tipoDte !== 33 || !chance(0.12)) continue;
    const s = suppliers.find((x) => x.rut === r.rutEmisor);
    s.folio += int(1, 5);
    const total = chance(0.5);
    const neto = total ? r.montoNeto : Math.round(r.montoNeto * (0.1 + rnd() * 0.4));
    const iva = total ? r.iva : Math.round(neto * 0.19);
    const n = {
      id: `R${++nR}`,
      tipoDte: 61,
      folio: s.folio,
      rutEmisor: s.rut,
      razonSocial: s.razonSocial,
      fechaEmision: addDays(r.fechaEmision, int(1, 20)),
      montoNeto: neto,
      iva,
      montoTotal: neto + iva,
      referencias: [{ tipoDocumento: 33, folio: String(r.folio), fecha: r.fechaEmision, codigo: total ? 1 : 3 }],
    };
    received.push(n);
    labels.adjusts.push([n.id, r.id]);
  }

  // The RCV: almost every received DTE but guías; a few whose XML never arrived.
  let nC = 0;
  for (const r of received) {
    if (r.tipoDte === 52 || chance(0.05)) continue;
    const c = { id: `C${++nC}`, rutEmisor: r.rutEmisor, tipoDte: r.tipoDte, folio: r.folio, fechaEmision: r.fechaEmision, montoTotal: r.montoTotal, montoNeto: r.montoNeto ?? 0, iva: r.iva, estado: pick(['REGISTRO', 'REGISTRO', 'PENDIENTE']) };
    rcv.push(c);
    labels.rcv.push([r.id, c.id]);
  }
  for (let k = 0; k < Math.ceil(received.length * 0.04); k++) {
    const s = pick(suppliers);
    s.folio += int(1, 9);
    rcv.push({ id: `C${++nC}`, rutEmisor: s.rut, tipoDte: 33, folio: s.folio, fechaEmision: day(), montoTotal: int(50, 3000) * 1190, montoNeto: int(50, 3000) * 1000, iva: 0, estado: 'REGISTRO' });
  }

  // The ERP's and the mailbox's order mean nothing.
  shuffle(received);
  shuffle(expected);
  shuffle(rcv);
  // Duplicates: the same DTE received again later (the copy has no links).
  for (const r of received.filter(() => chance(0.03))) received.push({ ...r, id: `R${++nR}` });
  return { name: sc.name, seed, received, expected, rcv, labels };
}

mkdirSync(OUT, { recursive: true });
SCENARIOS.forEach((sc, k) => {
  const data = scenario(sc, SEED + k);
  writeFileSync(path.join(OUT, `${sc.name}.json`), `${JSON.stringify(data)}\n`);
  console.log(`${sc.name}: ${data.received.length} received, ${data.expected.length} expected, ${data.rcv.length} RCV; links ${data.labels.expected.length} ERP, ${data.labels.rcv.length} RCV, ${data.labels.adjusts.length} notes`);
});
