#!/usr/bin/env node
/**
 * Adversarial reconciliation sets eval/data/adversarial-<family>.json, written blind (without reading
 * the engine, from the input/output contract only) so that the figures are not the engine author's
 * own noise model. Same labelled format as generate.js; no build needed:
 *   node packages/reconcile/eval/generate-adversarial.js [--seed 7031] [--out DIR (default eval/data)]
 *
 * One file per family; each family repeats a few patterns over a handful of suppliers, so that
 * the same supplier has several documents that look alike (the hard part in practice):
 * (a) greedy traps — two invoices, two ERP documents of one supplier where the best-looking single
 *     pair forces a wrong second pair: two OCs for the same repeat order (same lines, same total), one
 *     invoice citing its OC (801) and the other citing nothing but dated nearer the cited OC; four
 *     weekly guías of the same products invoiced in two invoices, the later invoice citing its guías
 *     (52) and the earlier, unreferenced one dated nearest to them; an invoice that is the first
 *     delivery of a two-line OC while another OC of the same supplier has exactly its amount (a repeat
 *     order issued after the invoice). Only a global assignment gets both pairs.
 * (b) recurring identical amounts — monthly services (aseo, arriendo, mantención, enlace de datos)
 *     with the same total every month: OCs on the 1st, invoices in advance or "mes vencido" (issued
 *     at the end of the month or early the next, nearer the next month's OC; the month is in the
 *     line text), half citing the OC; monthly vendor bills of a supplier with consecutive folios,
 *     where a one-digit folio typo lands on the neighbouring month's real folio. Dates decide.
 * (c) partial deliveries — an OC of 3–6 lines delivered in 2–4 invoices (lines split, a line's
 *     quantity split across deliveries), each delivery with its guía (goods receipt) or split into
 *     two guías, two deliveries sometimes merged into one invoice; invoices cite the OC (801) and/or
 *     the guías (52) half of the time; some OCs still open (last guía received, not invoiced). Each
 *     invoice computes IVA on its own total, so the parts add up to the OC ±1–2 pesos. Labels are the
 *     three-way match: invoice → OC and invoice → each of its guías.
 * (d) credit notes — total (CodRef 1) and partial (CodRef 3) notes referencing invoices (TpoDocRef
 *     as number or string, some exentas 34), debit notes (56), a note whose referenced invoice never
 *     arrived (same supplier has an invoice of the note's amount: must stay unlinked), a note whose
 *     FolioRef has a typo (transposed / one digit off, not another folio of the supplier), notes that
 *     copy the invoice's 801 reference, notes with the same folio number as an invoice (folios are
 *     per document type). Invoices also have their vendor bills / OCs.
 * (e) ERP typos — vendor bills with folios transposed / one digit off / prefixed (`F-`, `FE `,
 *     `N° `, leading zeros), RUTs with dots, without hyphen, lower-case k, a wrong check digit, and a
 *     few with two errors at once (wrong check digit and a transposed folio); OC numbers transposed in
 *     the ERP; the supplier writing the OC in its 801 reference as `OC N° 4500123`, `O.C. 4500123`,
 *     `OC4500123`; razón social variants on the DTE ("Soc. Comercial X Ltda." / "SOCIEDAD COMERCIAL X
 *     LIMITADA" — the ERP documents carry no name in the contract, so this only checks it is ignored).
 * (f) rounding — IVA summed per line (invoice) against IVA on the total (OC): ±1–4 pesos over 5–10
 *     lines; unit prices with decimals (montoItem rounded); invoices mixing exento and afecto; vendor
 *     bills typed ±1–3 pesos off; same-supplier OCs for other products a few pesos away (distractors
 *     that amounts alone cannot tell apart).
 * (g) distractors — the same supplier's invoices from the previous quarter (outside the period,
 *     amounts equal to open ERP documents), the same DTE received twice (the copy arrives later and
 *     has no links), RCV entries for documents never received (some with a received folio under
 *     another type), invoices the ERP never expected with amounts within 1–5 % of an open ERP document
 *     or exactly equal but months away and of other products, and folio numbers shared by a 33, a 34
 *     and a 61 of the same supplier (not duplicates).
 * Every received DTE but a few has its RCV entry (labelled); some RCV entries have no DTE.
 * Labels: `labels.expected` [received, expected], `labels.rcv` [received, rcv], `labels.adjusts`
 * [note, invoice]. Deterministic: mulberry32 seeded with seed + family index.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addDays, dots, dv, generatorArgs, mulberry32 } from './gen-lib.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { seed: SEED, out: OUT } = generatorArgs(process.argv, 7031, path.join(here, 'data'));


const MONTHS = ['enero', 'febrero', 'marzo', 'abril', 'mayo', 'junio', 'julio', 'agosto', 'septiembre', 'octubre', 'noviembre', 'diciembre'];

const PRODUCTS = [
  'Tornillo hexagonal acero 1/4"', 'Pintura látex blanca galón', 'Cemento Polpaico saco 25 kg', 'Cable eléctrico THHN 2,5 mm', 'Guantes de nitrilo caja 100',
  'Resma papel carta 500 hojas', 'Tóner impresora HP 85A', 'Cajas de cartón corrugado', 'Aceite hidráulico ISO 68 balde', 'Filtro de aire camión',
  'Neumático 295/80 R22.5', 'Café en grano 1 kg', 'Agua purificada bidón 20 L', 'Silla ergonómica oficina', 'Harina sin polvos 25 kg',
  'Azúcar granulada 50 kg', 'Detergente industrial 5 L', 'Plancha OSB 15 mm', 'Perfil de aluminio 6 m', 'Válvula de bola 1"',
  'Casco de seguridad blanco', 'Zapato de seguridad talla 42', 'Malla raschel 80 %', 'Tubo PVC sanitario 110 mm', 'Fierro estriado 12 mm',
  'Discos de corte 4 1/2"', 'Cinta de embalaje transparente', 'Pallet de madera 1x1,2', 'Alcohol gel 1 L', 'Bolsas de basura 80x110',
];
const SERVICES = ['Servicio de aseo oficinas', 'Arriendo bodega Quilicura', 'Mantención ascensores', 'Enlace de datos 100 Mbps', 'Arriendo grúa horquilla', 'Servicio de guardias', 'Soporte informático mensual'];
const NAME_A = ['Comercial', 'Distribuidora', 'Ferretería', 'Servicios', 'Importadora', 'Transportes', 'Inversiones', 'Sociedad Comercial'];
const NAME_B = ['Andes', 'del Pacífico', 'Los Aromos', 'Santa Elena', 'Ñuble', 'Austral', 'Cordillera', 'La Frontera', 'Valparaíso', 'Magallanes', 'Tarapacá', 'Los Robles'];

function family(name, seed, build) {
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
  const received = [];
  const expected = [];
  const rcv = [];
  const labels = { expected: [], rcv: [], adjusts: [] };
  const late = []; // received DTEs appended after the shuffle (duplicates arrive later)
  let nR = 0;
  let nE = 0;
  let nC = 0;
  let oc = int(4_500_000, 4_580_000);
  let guia = int(1000, 60_000);
  const noRcv = new Set();

  const supplier = (opts = {}) => {
    let digits = int(76_000_000, 78_999_999);
    if (opts.k) while (dv(digits) !== 'K') digits++;
    const a = pick(NAME_A);
    const b = pick(NAME_B);
    const soc = pick(['SpA', 'Ltda.', 'S.A.']);
    return {
      digits,
      rut: `${digits}-${dv(digits)}`,
      razonSocial: `${a} ${b} ${soc}`,
      variants: [`${a} ${b} ${soc}`, `${a.replace('Sociedad Comercial', 'Soc. Comercial')} ${b} ${soc}`.toUpperCase(), `${a} ${b} ${soc === 'Ltda.' ? 'LIMITADA' : soc === 'S.A.' ? 'SOCIEDAD ANONIMA' : 'SPA'}`.toUpperCase()],
      catalogue: shuffle([...PRODUCTS]).slice(0, 10).map((nombre) => ({ nombre, precio: int(2, 600) * 250 + (chance(0.4) ? int(1, 249) : 0) })),
      folio: int(200, 80_000),
    };
  };
  /** Typed RUT: how a person writes a supplier's RUT into the ERP. */
  const rutAs = (s, how = pick(['plain', 'dots', 'nohyphen', 'lowerk'])) => {
    const d = dv(s.digits);
    if (how === 'dots') return `${dots(s.digits)}-${d}`;
    if (how === 'nohyphen') return `${s.digits}${d}`;
    if (how === 'lowerk') return `${dots(s.digits)}-${d.toLowerCase()}`;
    if (how === 'wrongdv') return `${s.digits}-${d === '1' ? '2' : d === 'K' ? '1' : d === '0' ? 'K' : String(Number(d) - 1)}`;
    return `${s.digits}-${d}`;
  };
  const transpose = (str) => {
    const a = String(str).split('');
    for (let t = 0; t < 20; t++) {
      const k = int(Math.max(0, a.length - 4), a.length - 2);
      if (a[k] !== a[k + 1]) {
        [a[k], a[k + 1]] = [a[k + 1], a[k]];
        return a.join('');
      }
    }
    return oneOff(str);
  };
  const oneOff = (str) => {
    const a = String(str).split('');
    const k = int(Math.max(1, a.length - 4), a.length - 1);
    a[k] = String((Number(a[k]) + int(1, 9)) % 10);
    return a.join('');
  };
  const items = (s, n, qty = () => int(1, 40)) => shuffle([...s.catalogue]).slice(0, n).map((p) => ({ nombre: p.nombre, cantidad: qty(), precioUnitario: p.precio }));
  const erpText = (t) => {
    let x = t;
    if (chance(0.5)) x = x.toUpperCase();
    if (chance(0.5)) x = x.normalize('NFD').replace(/\p{M}/gu, '');
    if (chance(0.3)) x = `${x} (cód. ${int(1000, 9999)})`;
    return x;
  };
  /** Totals the SII way: IVA on the neto (or per line, as some invoicing software does). */
  const totals = (its, { exento = 0, perLine = false, tipo = 33 } = {}) => {
    const amounts = its.map((it) => Math.round(it.cantidad * it.precioUnitario));
    const neto = amounts.reduce((a, b) => a + b, 0);
    if (tipo === 34) return { montoExento: neto + exento, iva: 0, montoTotal: neto + exento };
    const iva = perLine ? amounts.reduce((a, m) => a + Math.round(m * 0.19), 0) : Math.round(neto * 0.19);
    return { montoNeto: neto, ...(exento ? { montoExento: exento } : {}), iva, montoTotal: neto + iva + exento };
  };
  const invoice = (s, its, fecha, { refs = [], tipo = 33, perLine = false, exento = 0, folio, nombre } = {}) => {
    if (folio === undefined) s.folio += int(1, 30);
    const r = {
      id: `R${++nR}`,
      tipoDte: tipo,
      folio: folio ?? s.folio,
      rutEmisor: s.rut,
      razonSocial: nombre ?? s.razonSocial,
      fechaEmision: fecha,
      ...totals(its, { exento, perLine, tipo }),
      items: [...its.map((it) => ({ ...it, montoItem: Math.round(it.cantidad * it.precioUnitario) })), ...(exento ? [{ nombre: 'Flete internacional (exento)', cantidad: 1, precioUnitario: exento, montoItem: exento }] : [])],
      ...(refs.length ? { referencias: refs } : {}),
    };
    received.push(r);
    return r;
  };
  const note = (s, inv, { tipo = 61, codigo = 1, share = 1, folioRef = String(inv.folio), tipoRef = inv.tipoDte, fecha = addDays(inv.fechaEmision, int(2, 25)), extraRefs = [], folio } = {}) => {
    if (folio === undefined) s.folio += int(1, 6);
    const exenta = inv.tipoDte === 34;
    const base = exenta ? inv.montoExento : inv.montoNeto;
    const neto = codigo === 2 ? 0 : share === 1 ? base : Math.round(base * share);
    const iva = exenta ? 0 : share === 1 && codigo !== 2 ? inv.iva : Math.round(neto * 0.19);
    const n = {
      id: `R${++nR}`,
      tipoDte: tipo,
      folio: folio ?? s.folio,
      rutEmisor: s.rut,
      razonSocial: s.razonSocial,
      fechaEmision: fecha,
      ...(exenta ? { montoExento: neto } : { montoNeto: neto }),
      iva,
      montoTotal: neto + iva,
      referencias: [{ tipoDocumento: tipoRef, folio: folioRef, fecha: inv.fechaEmision, codigo }, ...extraRefs],
    };
    received.push(n);
    return n;
  };
  const exp = (e) => {
    const full = { id: `E${++nE}`, ...e };
    expected.push(full);
    return full;
  };
  const lines = (its) => its.map((it) => ({ descripcion: erpText(it.nombre), cantidad: it.cantidad, precioUnitario: it.precioUnitario }));
  const po = (s, its, fecha, { numero, rut, exento = 0 } = {}) => {
    oc += int(1, 40);
    const t = totals(its, { exento });
    return exp({ kind: 'purchase_order', rutProveedor: rut ?? rutAs(s), fecha, numero: numero ?? String(oc), montoNeto: t.montoNeto, montoTotal: t.montoTotal, lines: lines(its) });
  };
  const gr = (s, its, fecha) => {
    guia += int(1, 30);
    const t = totals(its);
    return exp({ kind: 'goods_receipt', rutProveedor: rutAs(s), fecha, numero: String(guia), montoNeto: t.montoNeto, montoTotal: t.montoTotal, lines: lines(its) });
  };
  const vb = (s, r, { folioFactura = String(r.folio), rut, montoTotal = r.montoTotal, fecha = addDays(r.fechaEmision, int(0, 6)) } = {}) =>
    exp({ kind: 'vendor_bill', rutProveedor: rut ?? rutAs(s), fecha, folioFactura, montoTotal });
  const ref801 = (numero, fecha, fmt = pick(['plain', 'OC-', 'zeros', 'OC '])) => ({
    tipoDocumento: 801,
    folio: fmt === 'OC-' ? `OC-${numero}` : fmt === 'zeros' ? `000${numero}` : fmt === 'OC ' ? `OC ${numero}` : fmt === 'N°' ? `OC N° ${numero}` : fmt === 'O.C.' ? `O.C. ${numero}` : fmt === 'OCnospace' ? `OC${numero}` : String(numero),
    fecha,
  });
  const ref52 = (g) => ({ tipoDocumento: 52, folio: g.numero, fecha: g.fecha });
  const link = (r, e) => labels.expected.push([r.id, e.id]);
  const adjusts = (n, inv) => labels.adjusts.push([n.id, inv.id]);
  const ctx = { int, pick, chance, shuffle, supplier, rutAs, transpose, oneOff, items, invoice, note, po, gr, vb, exp, ref801, ref52, link, adjusts, totals, lines, received, expected, late, noRcv, nextR: () => `R${++nR}` };
  build(ctx);

  // The RCV: every received DTE (but a few), one entry per DTE; orphan entries come from build().
  for (const r of received) {
    if (noRcv.has(r.id) || chance(0.04)) continue;
    const c = { id: `C${++nC}`, rutEmisor: r.rutEmisor, tipoDte: r.tipoDte, folio: r.folio, fechaEmision: r.fechaEmision, montoTotal: r.montoTotal, montoNeto: r.montoNeto ?? 0, iva: r.iva, estado: pick(['REGISTRO', 'REGISTRO', 'PENDIENTE']) };
    rcv.push(c);
    labels.rcv.push([r.id, c.id]);
  }
  for (const o of ctx.orphanRcv ?? []) rcv.push({ id: `C${++nC}`, ...o });
  shuffle(received);
  shuffle(expected);
  shuffle(rcv);
  received.push(...late);
  return { name: `adversarial-${name}`, seed, received, expected, rcv, labels };
}

const FAMILIES = {
  /** (a) Greedy traps. */
  'a-greedy': (c) => {
    const sups = Array.from({ length: 8 }, () => c.supplier());
    for (let k = 0; k < 14; k++) {
      const s = c.pick(sups);
      const d0 = `2026-0${c.int(3, 5)}-${String(c.int(1, 9)).padStart(2, '0')}`;
      const pattern = k % 3;
      if (pattern === 0) {
        // Repeat order: OCs Q (d0) and P (d0+3..5), same lines; A (a day after P) cites nothing, B
        // (d0+20) cites P: A is Q's delivery although it is nearest to P.
        const its = c.items(s, c.int(1, 3));
        const Q = c.po(s, its, d0);
        const P = c.po(s, its, addDays(d0, c.int(3, 5)));
        const A = c.invoice(s, its, addDays(P.fecha, c.int(1, 2)));
        const B = c.invoice(s, its, addDays(d0, c.int(18, 22)), { refs: [c.ref801(P.numero, P.fecha)] });
        c.link(A, Q);
        c.link(B, P);
      } else if (pattern === 1) {
        // Weekly guías of the same products, invoiced in two invoices; B cites its guías, A cites none
        // and is dated right after the second week's guías.
        const its = c.items(s, 2);
        const g = [0, 1, 7, 8].map((o, i) => c.gr(s, [its[i % 2]], addDays(d0, o)));
        const A = c.invoice(s, its, addDays(d0, 9));
        const B = c.invoice(s, its, addDays(d0, c.int(10, 14)), { refs: [c.ref52(g[2]), c.ref52(g[3])] });
        c.link(A, g[0]);
        c.link(A, g[1]);
        c.link(B, g[2]);
        c.link(B, g[3]);
      } else {
        // First delivery of a two-line OC P has exactly the total of a repeat OC Q issued two weeks after
        // it; the second delivery cites P. Q stays open.
        const its = c.items(s, 2);
        const P = c.po(s, its, d0);
        const A = c.invoice(s, [its[0]], addDays(d0, c.int(3, 6)));
        const B = c.invoice(s, [its[1]], addDays(d0, c.int(8, 12)), { refs: [c.ref801(P.numero, P.fecha)] });
        c.po(s, [its[0]], addDays(A.fechaEmision, 14));
        c.link(A, P);
        c.link(B, P);
      }
    }
  },

  /** (b) Recurring identical amounts. */
  'b-recurring': (c) => {
    for (let k = 0; k < 7; k++) {
      const s = c.supplier();
      const service = SERVICES[k % SERVICES.length];
      const monto = c.int(200, 3000) * 1000;
      const months = c.int(4, 6);
      const arrears = k % 2 === 1;
      const withOc = k % 3 !== 2;
      const billedMonths = c.chance(0.5) ? months - 1 : months; // the last month not invoiced yet
      for (let m = 0; m < months; m++) {
        const mm = 1 + m;
        const first = `2026-${String(mm).padStart(2, '0')}-01`;
        const its = [{ nombre: `${service} ${MONTHS[mm - 1]} 2026`, cantidad: 1, precioUnitario: monto }];
        if (withOc) {
          const P = c.po(s, its, addDays(first, c.int(-2, 1)));
          if (m >= billedMonths) continue;
          const fecha = arrears ? addDays(first, c.int(27, 33)) : addDays(first, c.int(0, 7));
          const cite = c.chance(0.5);
          const A = c.invoice(s, its, fecha, { refs: cite ? [c.ref801(P.numero, P.fecha)] : [] });
          c.link(A, P);
        } else {
          // Vendor bills of a supplier that issues one invoice a month: consecutive folios.
          if (m >= billedMonths) continue;
          s.folio += 1;
          const A = c.invoice(s, its, addDays(first, arrears ? c.int(27, 31) : c.int(0, 5)), { folio: s.folio });
          const typo = c.chance(0.3);
          const folioFactura = typo ? String(A.folio + (m === 0 ? 1 : -1)) : String(A.folio);
          c.link(A, c.vb(s, A, { folioFactura, fecha: addDays(A.fechaEmision, c.int(1, 8)) }));
        }
      }
    }
  },

  /** (c) Partial deliveries with guías. */
  'c-partial': (c) => {
    const sups = Array.from({ length: 6 }, () => c.supplier());
    for (let k = 0; k < 18; k++) {
      const s = c.pick(sups);
      const n = c.int(3, 6);
      const its = c.items(s, n, () => c.int(4, 40));
      const d0 = addDays('2026-04-01', c.int(0, 60));
      const P = c.po(s, its, d0);
      const parts = Math.min(c.int(2, 4), n + 1);
      const groups = Array.from({ length: parts }, () => []);
      its.forEach((it, i) => groups[i < parts ? i : c.int(0, parts - 1)].push(it));
      // A line's quantity split across two deliveries (backorder).
      if (groups.length >= 2 && groups[0].length > 0 && groups[0][0].cantidad >= 4) {
        const it = groups[0][0];
        const q = Math.floor(it.cantidad / 2);
        groups[0][0] = { ...it, cantidad: q };
        groups[1].push({ ...it, cantidad: it.cantidad - q });
      }
      const open = c.chance(0.3);
      let d = addDays(d0, c.int(2, 6));
      // Deliveries → guías (one, or split into two).
      const deliveries = groups.filter((g) => g.length).map((g) => {
        const gs = g.length >= 2 && c.chance(0.3) ? [g.slice(0, 1), g.slice(1)] : [g];
        const out = { items: g, guias: gs.map((x) => c.gr(s, x, d)), fecha: d };
        d = addDays(d, c.int(3, 12));
        return out;
      });
      if (open) deliveries.pop(); // its guías stay in the ERP with no invoice
      // Invoices: one per delivery, or two deliveries merged into one invoice.
      for (let i = 0; i < deliveries.length; i++) {
        const merge = i + 1 < deliveries.length && c.chance(0.25) ? [deliveries[i], deliveries[++i]] : [deliveries[i]];
        const guias = merge.flatMap((x) => x.guias);
        const refs = [];
        if (c.chance(0.5)) refs.push(c.ref801(P.numero, P.fecha));
        if (c.chance(0.5)) refs.push(...guias.map(c.ref52));
        const last = merge[merge.length - 1];
        const A = c.invoice(s, merge.flatMap((x) => x.items), addDays(last.fecha, c.int(0, 5)), { refs });
        c.link(A, P);
        for (const g of guias) c.link(A, g);
      }
    }
  },

  /** (d) Credit and debit notes. */
  'd-notes': (c) => {
    const sups = Array.from({ length: 7 }, () => c.supplier());
    const invs = [];
    for (let k = 0; k < 40; k++) {
      const s = c.pick(sups);
      const fecha = addDays('2026-05-01', c.int(0, 45));
      const tipo = c.chance(0.15) ? 34 : 33;
      if (c.chance(0.5)) {
        const its = c.items(s, c.int(1, 4));
        const P = c.po(s, its, addDays(fecha, -c.int(1, 10)));
        const A = c.invoice(s, its, fecha, { tipo, refs: c.chance(0.7) ? [c.ref801(P.numero, P.fecha)] : [] });
        c.link(A, P);
        invs.push({ s, A, P });
      } else {
        const A = c.invoice(s, c.items(s, c.int(1, 4)), fecha, { tipo });
        c.link(A, c.vb(s, A));
        invs.push({ s, A });
      }
    }
    c.shuffle(invs);
    invs.forEach(({ s, A, P }, i) => {
      const kind = i % 8;
      if (kind === 0) c.adjusts(c.note(s, A, { codigo: 1 }), A);
      else if (kind === 1) c.adjusts(c.note(s, A, { codigo: 3, share: 0.1 + (i % 5) * 0.08, tipoRef: String(A.tipoDte) }), A);
      else if (kind === 2) c.adjusts(c.note(s, A, { tipo: 56, codigo: 3, share: 0.02 }), A);
      else if (kind === 3) {
        // Typo in FolioRef that is no other folio of this supplier.
        const taken = new Set(invs.filter((x) => x.s === s).map((x) => String(x.A.folio)));
        let f = c.transpose(A.folio);
        for (let t = 0; taken.has(f) && t < 10; t++) f = c.oneOff(A.folio);
        if (!taken.has(f)) c.adjusts(c.note(s, A, { codigo: 1, folioRef: f }), A);
      } else if (kind === 4 && P) c.adjusts(c.note(s, A, { codigo: 3, share: 0.25, extraRefs: [c.ref801(P.numero, P.fecha)] }), A);
      else if (kind === 5) {
        // Same folio number as an invoice of the supplier (folios run per document type).
        c.adjusts(c.note(s, A, { codigo: 1, folio: A.folio }), A);
      } else if (kind === 6) c.adjusts(c.note(s, A, { codigo: 2, share: 0 }), A);
    });
    // Notes whose invoice never arrived: the supplier has an invoice of the note's amount (a trap).
    for (let k = 0; k < 5; k++) {
      const { s, A } = invs[k];
      const taken = new Set(c.received.filter((r) => r.rutEmisor === s.rut).map((r) => r.folio));
      let folio = A.folio + 3 + k;
      while (taken.has(folio)) folio++;
      const ghost = { ...A, folio, id: 'ghost', fechaEmision: addDays(A.fechaEmision, -1) };
      const n = c.note(s, ghost, { codigo: 1 });
      n.montoTotal = A.montoTotal;
      n.iva = A.iva;
      if (A.montoNeto !== undefined) n.montoNeto = A.montoNeto;
      else n.montoExento = A.montoExento;
    }
  },

  /** (e) ERP typos and formats. */
  'e-typos': (c) => {
    const sups = [...Array.from({ length: 7 }, () => c.supplier()), c.supplier({ k: true }), c.supplier({ k: true })];
    for (let k = 0; k < 60; k++) {
      const s = c.pick(sups);
      const fecha = addDays('2026-06-01', c.int(0, 29));
      const nombre = c.pick(s.variants);
      const u = k % 6;
      if (u <= 2) {
        const A = c.invoice(s, c.items(s, c.int(1, 4)), fecha, { nombre });
        const rutHow = u === 0 ? 'wrongdv' : c.pick(['plain', 'dots', 'nohyphen', 'lowerk']);
        const folioHow = u === 1 ? c.pick(['transpose', 'oneoff']) : u === 0 ? (c.chance(0.3) ? 'transpose' : 'ok') : c.pick(['F-', 'FE ', 'N° ', 'zeros', 'ok']);
        const f = String(A.folio);
        const folioFactura = folioHow === 'transpose' ? c.transpose(f) : folioHow === 'oneoff' ? c.oneOff(f) : folioHow === 'zeros' ? `000${f}` : folioHow === 'ok' ? f : `${folioHow}${f}`;
        c.link(A, c.vb(s, A, { rut: c.rutAs(s, rutHow), folioFactura }));
      } else if (u === 3) {
        // OC number transposed in the ERP; the invoice cites the right one.
        const its = c.items(s, c.int(1, 4));
        const num = String(4_600_000 + c.int(0, 99_999));
        const P = c.po(s, its, addDays(fecha, -c.int(1, 10)), { numero: c.transpose(num) });
        c.link(c.invoice(s, its, fecha, { nombre, refs: [c.ref801(num, P.fecha)] }), P);
      } else {
        // The supplier's own way of writing the OC in its 801.
        const its = c.items(s, c.int(1, 4));
        const P = c.po(s, its, addDays(fecha, -c.int(1, 10)), { rut: c.rutAs(s, c.pick(['dots', 'nohyphen', 'lowerk', 'wrongdv'])) });
        c.link(c.invoice(s, its, fecha, { nombre, refs: [c.ref801(P.numero, P.fecha, c.pick(['N°', 'O.C.', 'OCnospace']))] }), P);
      }
    }
  },

  /** (f) Rounding. */
  'f-rounding': (c) => {
    const sups = Array.from({ length: 6 }, () => c.supplier());
    for (let k = 0; k < 36; k++) {
      const s = c.pick(sups);
      const fecha = addDays('2026-07-01', c.int(0, 30));
      const u = k % 4;
      if (u === 0) {
        // IVA per line on the invoice, on the total in the OC; no reference.
        const its = c.items(s, c.int(5, 10));
        const P = c.po(s, its, addDays(fecha, -c.int(1, 8)));
        c.link(c.invoice(s, its, fecha, { perLine: true, refs: c.chance(0.3) ? [c.ref801(P.numero, P.fecha)] : [] }), P);
      } else if (u === 1) {
        // Unit prices with decimals (kilos, litres): the ERP keeps the decimals, the DTE rounds montoItem.
        const its = c.items(s, c.int(2, 6)).map((it) => ({ ...it, cantidad: c.int(10, 400) / 10, precioUnitario: it.precioUnitario + c.int(1, 99) / 100 }));
        const P = c.po(s, its.map((it) => ({ ...it })), addDays(fecha, -c.int(1, 8)));
        // The ERP's total from unrounded lines.
        const neto = its.reduce((a, it) => a + it.cantidad * it.precioUnitario, 0);
        P.montoNeto = Math.round(neto);
        P.montoTotal = Math.round(neto * 1.19);
        c.link(c.invoice(s, its, fecha, { perLine: c.chance(0.5) }), P);
      } else if (u === 2) {
        // Exento + afecto in one invoice; the OC carries both.
        const its = c.items(s, c.int(1, 3));
        const exento = c.int(20, 400) * 1000 + c.int(0, 999);
        const P = c.po(s, its, addDays(fecha, -c.int(1, 8)), { exento });
        c.link(c.invoice(s, its, fecha, { exento, refs: c.chance(0.4) ? [c.ref801(P.numero, P.fecha)] : [] }), P);
      } else {
        // Vendor bill typed ±1–3 pesos off, and a same-supplier OC of other products a few pesos away.
        const its = c.items(s, c.int(1, 3));
        const A = c.invoice(s, its, fecha, { perLine: c.chance(0.5) });
        c.link(A, c.vb(s, A, { montoTotal: A.montoTotal + c.pick([-3, -2, -1, 1, 2, 3]) }));
        const other = c.items(s, 1);
        const D = c.po(s, other, addDays(fecha, -c.int(1, 8)));
        D.montoTotal = A.montoTotal + c.pick([-6, -4, 4, 6]);
      }
    }
  },

  /** (g) Distractors. */
  'g-distractors': (c) => {
    const sups = Array.from({ length: 8 }, () => c.supplier());
    const live = [];
    for (let k = 0; k < 40; k++) {
      const s = c.pick(sups);
      const fecha = addDays('2026-08-01', c.int(0, 60));
      const its = c.items(s, c.int(1, 4));
      if (k % 2) {
        const P = c.po(s, its, addDays(fecha, -c.int(1, 8)));
        const A = c.invoice(s, its, fecha, { refs: c.chance(0.6) ? [c.ref801(P.numero, P.fecha)] : [] });
        c.link(A, P);
        live.push({ s, A, P, its });
      } else {
        const A = c.invoice(s, its, fecha);
        c.link(A, c.vb(s, A));
        live.push({ s, A, its });
      }
    }
    // Open ERP documents (never invoiced yet) and, for each, an unexpected invoice of a near amount
    // or the exact amount months earlier with other products.
    for (let k = 0; k < 12; k++) {
      const s = c.pick(sups);
      const its = c.items(s, c.int(1, 3));
      const fecha = addDays('2026-08-01', c.int(0, 60));
      const P = c.po(s, its, fecha);
      const target = k % 2 ? Math.round(P.montoTotal * (1 + c.pick([-1, 1]) * (0.01 + (k % 5) * 0.01))) : P.montoTotal;
      // One line of a product the OC does not have, priced so that the total hits the target.
      const neto = P.montoNeto === undefined ? Math.round(target / 1.19) : k % 2 ? Math.round(target / 1.19) : P.montoNeto;
      const otherName = s.catalogue.find((p) => !its.some((x) => x.nombre === p.nombre)).nombre;
      c.invoice(s, [{ nombre: otherName, cantidad: 1, precioUnitario: neto }], k % 2 ? addDays(fecha, c.int(-15, 15)) : addDays(fecha, -c.int(70, 120)));
    }
    // Previous quarter's invoices of live suppliers, with the amount of a current ERP document.
    for (const { s, A, its } of live.slice(0, 10)) {
      c.invoice(s, its, addDays(A.fechaEmision, -c.int(75, 110)));
    }
    // Duplicates: the same DTE received again later, a new id, no links.
    for (const { A } of live.slice(10, 16)) c.late.push({ ...A, id: c.nextR() });
    // Folios shared across types: a 34 and a 61 with an invoice's folio number.
    for (const { s, A } of live.slice(16, 20)) {
      const B = c.invoice(s, c.items(s, 1), addDays(A.fechaEmision, c.int(1, 10)), { tipo: 34, folio: A.folio });
      c.link(B, c.vb(s, B));
    }
    for (const { s, A } of live.slice(20, 23)) c.adjusts(c.note(s, A, { codigo: 3, share: 0.2, folio: A.folio }), A);
    // RCV entries for DTEs never received (one under the folio of a received 33 but tipo 61).
    c.orphanRcv = live.slice(23, 30).map(({ s, A }, i) => ({ rutEmisor: s.rut, tipoDte: i % 2 ? 61 : 33, folio: i % 2 ? A.folio : A.folio + 1000 + i, fechaEmision: A.fechaEmision, montoTotal: i % 2 ? Math.round(A.montoTotal * 0.3) : A.montoTotal, montoNeto: 0, iva: 0, estado: 'REGISTRO' }));
  },
};

mkdirSync(OUT, { recursive: true });
Object.entries(FAMILIES).forEach(([name, build], k) => {
  const data = family(name, SEED + k, build);
  writeFileSync(path.join(OUT, `${data.name}.json`), `${JSON.stringify(data)}\n`);
  console.log(`${data.name}: ${data.received.length} received, ${data.expected.length} expected, ${data.rcv.length} RCV; links ${data.labels.expected.length} ERP, ${data.labels.rcv.length} RCV, ${data.labels.adjusts.length} notes`);
});
