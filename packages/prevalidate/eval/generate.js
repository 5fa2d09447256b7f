#!/usr/bin/env node
/**
 * Builds the labelled evaluation sets eval/data/clean.json and eval/data/corrupted.json from the
 * twelve examples/dte documents (run after `npx tsc -b packages/prevalidate`):
 *   node packages/prevalidate/eval/generate.js [--clean 420] [--corrupted 660] [--seed 20261204]
 *
 * Every record is {id, kind, expected, dte_data, ctx}: the document, and the company context it is
 * checked in (today, the company's CAFs, folios already used, sometimes past rejections).
 * - clean: a variant of an example with realistic noise: other receptors (valid RUTs, names and
 *   communes with ñ/á/é, dotted RUTs, lower-case k), other items (1–6 lines from a catalogue,
 *   quantities, prices, line discounts), issue dates within the SII window (today − 3 … today, or
 *   absent), references dated before the issue date, folios inside a CAF authorized ≤ 5 months
 *   before, optional stated totals computed with @timbre/dte (so they are right by construction);
 * - corrupted: a fresh clean variant with exactly one injected violation, labelled with its kind and
 *   the issue code it must produce (KINDS below; kinds apply only to the types they make sense for).
 * Deterministic: mulberry32 seeded with seed + record index. Records are one per line (compact).
 */
import { readFileSync, readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { computeDv, inputToDte, parseDteInput, TOTALES_INPUT_KEYS } from '@timbre/dte';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N_CLEAN = arg('clean', 420);
const N_CORRUPTED = arg('corrupted', 660);
const SEED = arg('seed', 20261204);

function mulberry32(a) {
  return function () {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EXAMPLES = Object.fromEntries(
  readdirSync(path.join(root, 'examples/dte'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => [Number(f.replace('.json', '')), JSON.parse(readFileSync(path.join(root, 'examples/dte', f), 'utf8'))]),
);
const TYPES = [33, 33, 33, 34, 39, 39, 41, 43, 46, 52, 56, 61, 61, 110, 111, 112];
const BOLETA = new Set([39, 41]);
const EXPORT = new Set([110, 111, 112]);
const NOTE = new Set([56, 61, 111, 112]);

const day = (s) => Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +s.slice(8, 10)) / 86_400_000;
const iso = (n) => new Date(n * 86_400_000).toISOString().slice(0, 10);
const addDays = (s, n) => iso(day(s) + n);
const clone = (x) => JSON.parse(JSON.stringify(x));

const NOMBRES = [
  'COMERCIAL ÑUÑOA LIMITADA', 'FERRETERÍA LA ARAUCANÍA SPA', 'PANADERÍA SAN JOSÉ E.I.R.L.', 'CONSTRUCTORA PEÑALOLÉN S.A.',
  'TRANSPORTES MUÑOZ Y CÍA. LTDA.', 'LIBRERÍA CERVANTES SPA', 'AGRÍCOLA EL ALMENDRO LTDA.', 'CLÍNICA DENTAL SONRÍE SPA',
  'SERVICIOS INFORMÁTICOS ÁNDES LTDA.', 'DISTRIBUIDORA DOÑA INÉS SPA', 'INVERSIONES CAÑETE S.A.', 'JOSÉ MARÍA NÚÑEZ ARAYA',
  'ÓPTICA VISIÓN CLARA LTDA.', 'VIÑA SANTA ROSALÍA S.A.', 'PESQUERA BAHÍA QUINTERO SPA', 'María Angélica Ñancupil Soto',
];
// GiroRecep is at most 40 characters (XSD), unlike GiroEmis (80): real receptor giros are short.
const GIROS = ['Venta de artículos de ferretería', 'Servicios de ingeniería', 'Elaboración de pan', 'Construcción de edificios', 'Transporte de carga por carretera', 'Venta de libros', 'Cultivo de uva', 'Servicios odontológicos', 'Comercio al por mayor', 'Asesorías en tecnología', 'Fabricación de muebles de madera y mimbre'.slice(0, 40)];
const COMUNAS = ['Ñuñoa', 'Peñalolén', 'Providencia', 'Maipú', 'Concepción', 'Valparaíso', 'Temuco', 'Puerto Montt', 'La Reina', 'Viña del Mar', 'Curicó', 'Chillán'];
const CALLES = ['Av. Irarrázaval', 'Los Álamos', 'Pasaje Peñaflor', 'Av. Libertador Bernardo O’Higgins', 'Camino a Melipilla', 'Calle Ñandú', 'Av. Alemania', 'San Martín'];
const ITEMS = [
  ['Resma papel carta 75 g', 'UN', 4990], ['Taladro percutor 750 W', 'UN', 54990], ['Servicio de mantención mensual', 'SERV', 120000],
  ['Tóner HP 85A', 'UN', 38990], ['Hora de consultoría técnica', 'HR', 45000], ['Cemento Polpaico 25 kg', 'SAC', 5490],
  ['Licencia anual de software', 'UN', 250000], ['Café de grano 1 kg', 'KG', 15990], ['Silla ergonómica de oficina', 'UN', 129990],
  ['Instalación de red eléctrica', 'SERV', 380000], ['Caja de guantes de nitrilo', 'CJ', 8990], ['Diseño de logotipo y señalética', 'SERV', 175000],
];

const EMOJI = ['😀', '🚚', '✅', '🎉'];

function makeRut(r) {
  const n = 5_000_000 + Math.floor(r() * 90_000_000);
  return `${n}-${computeDv(n)}`;
}
function styleRut(rut, r) {
  const [n, dv] = rut.split('-');
  const x = r();
  if (x < 0.15) return `${n.replace(/\B(?=(\d{3})+(?!\d))/g, '.')}-${dv}`;
  if (x < 0.25 && dv === 'K') return `${n}-k`;
  return rut;
}
const pick = (r, a) => a[Math.floor(r() * a.length)];
const int = (r, lo, hi) => lo + Math.floor(r() * (hi - lo + 1));

/** A clean variant of the example of `tipo`, with its context. */
function cleanVariant(r, tipo) {
  const d = clone(EXAMPLES[tipo]);
  d.dte_type = r() < 0.5 ? String(tipo) : tipo;
  const today = iso(day('2026-01-05') + int(r, 0, 330));
  const fecha = addDays(today, -int(r, 0, 3));
  if (r() < 0.9) d.fecha_emision = fecha;
  else delete d.fecha_emision;
  const issue = d.fecha_emision ?? today;

  // receptor
  if (!BOLETA.has(tipo) && !EXPORT.has(tipo)) {
    d.receptor.rut = styleRut(makeRut(r), r);
    d.receptor.razon_social = pick(r, NOMBRES);
    d.receptor.giro = pick(r, GIROS);
    d.receptor.direccion = `${pick(r, CALLES)} ${int(r, 10, 9999)}`;
    d.receptor.comuna = pick(r, COMUNAS);
    if (r() < 0.5) delete d.receptor.contacto;
    if (r() < 0.5) delete d.receptor.correo;
  } else if (BOLETA.has(tipo) && r() < 0.15) {
    d.receptor = { rut: makeRut(r), razon_social: pick(r, NOMBRES) };
  }

  // items
  if (tipo !== 43) {
    const n = EXPORT.has(tipo) ? int(r, 1, 3) : int(r, 1, 6);
    const exempt = tipo === 34 || tipo === 41 || EXPORT.has(tipo);
    d.items = Array.from({ length: n }, (_, i) => {
      const [nombre, unidad, base] = pick(r, ITEMS);
      const it = { nombre, cantidad: r() < 0.8 ? int(r, 1, 20) : Math.round(r() * 1000) / 100 + 0.5 };
      if (r() < 0.6) it.unidad = unidad;
      it.precio_unitario = EXPORT.has(tipo) ? Math.round((base / 950) * (0.8 + 0.4 * r()) * 100) / 100 : Math.round(base * (0.8 + 0.4 * r()));
      if (r() < 0.2) it.codigo = `SKU-${int(r, 100, 9999)}`;
      if (tipo === 33 && i === n - 1 && n > 1 && r() < 0.3) it.exento = true;
      if (tipo === 52 && r() < 0.1) delete it.precio_unitario;
      if (r() < 0.15 && it.precio_unitario !== undefined) it.descuento_pct = pick(r, [5, 10, 12.5, 15]);
      if (exempt && r() < 0.1 && !EXPORT.has(tipo)) it.exento = true;
      return it;
    });
    if (tipo === 52 && d.items.every((x) => x.precio_unitario === undefined)) d.items[0].precio_unitario = 1000;
    if (tipo === 33) {
      if (d.items.every((x) => x.exento)) delete d.items[0].exento;
      if (r() < 0.5) delete d.descuentos_globales;
      else if (d.descuentos_globales) d.descuentos_globales[0].valor = pick(r, [2, 3, 5, 8]);
    }
  } else {
    d.items.forEach((it) => (it.monto_total = Math.sign(it.monto_total) * int(r, 50, 2000) * 1000));
    d.comisiones.forEach((c) => (c.valor_neto = int(r, 5, 300) * 1000));
  }

  // references dated before the issue date
  if (d.referencias) d.referencias.forEach((ref) => (ref.fecha = addDays(issue, -int(r, 1, 90))));
  if (NOTE.has(tipo) && r() < 0.2) d.referencias.push({ tipo_documento: '801', folio: `OC-${int(r, 1000, 9999)}`, fecha: addDays(issue, -int(r, 5, 120)), razon: 'Orden de compra' });

  // folio and context
  const desde = int(r, 1, 5000);
  const hasta = desde + int(r, 49, 2000);
  const folio = int(r, desde, hasta);
  d.folio = folio;
  const fa = addDays(issue, -int(r, 1, 150));
  const cafs = [{ tipoDte: tipo, desde, hasta, fechaAutorizacion: fa }];
  if (r() < 0.3) cafs.push({ tipoDte: tipo, desde: hasta + 1, hasta: hasta + 500, fechaAutorizacion: addDays(issue, -int(r, 0, 20)) });
  if (r() < 0.3) cafs.push({ tipoDte: tipo === 33 ? 61 : 33, desde: 1, hasta: 10_000, fechaAutorizacion: addDays(issue, -300) });
  const seenFolios = [];
  for (let f = Math.max(desde, folio - int(r, 0, 8)); f < folio; f++) seenFolios.push({ tipoDte: tipo, folio: f });
  if (r() < 0.3) seenFolios.push({ tipoDte: tipo === 33 ? 34 : 33, folio });
  const ctx = { today, cafs, seenFolios };
  if (r() < 0.2) ctx.recentRejections = [{ code: pick(r, ['DTE-3-101', 'REF-3-758', 'HED-3-861', 'CAF-3-517']) }];

  // stated totals: computed, or absent
  delete d.totales;
  const dte = inputToDte(parseDteInput(d), { fchEmis: today });
  // the sale clause total of a 110 follows the lines (informative field)
  if (tipo === 110) d.transporte.aduana.total_clausula_venta = dte.encabezado.totales.mntTotal;
  if (r() < 0.65) {
    const t = dte.encabezado.totales;
    const st = {};
    for (const [k, ik] of Object.entries(TOTALES_INPUT_KEYS)) if (typeof t[k] === 'number' && ['mntNeto', 'mntExe', 'iva', 'mntTotal', 'ivaProp', 'ivaTerc'].includes(k)) st[ik] = t[k];
    if (Object.keys(st).length > 0) d.totales = st;
  }
  return { d, ctx, dte };
}

const withTotals = (v) => {
  if (!v.d.totales) {
    const t = v.dte.encabezado.totales;
    v.d.totales = {};
    for (const [k, ik] of [['mntNeto', 'monto_neto'], ['mntExe', 'monto_exento'], ['iva', 'iva'], ['mntTotal', 'monto_total']]) if (typeof t[k] === 'number') v.d.totales[ik] = t[k];
  }
  return v.d.totales;
};
const affectedNonBoleta = (t) => [33, 46, 56, 61].includes(t);
const priced = (v) => v.d.items.findIndex((it) => it.precio_unitario !== undefined && it.cantidad !== undefined);

/** kind → [expected code, applies(tipo, variant), inject(variant, r)] */
const KINDS = {
  rut_dv_receptor: ['PV_RUT_DV', (t) => !BOLETA.has(t) && !EXPORT.has(t), (v) => {
    const [n, dv] = v.d.receptor.rut.replace(/\./g, '').toUpperCase().split('-');
    const wrong = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'K'].filter((x) => x !== dv);
    v.d.receptor.rut = `${n}-${wrong[n.length % wrong.length]}`;
  }],
  rut_dv_emisor: ['PV_RUT_DV', () => true, (v) => (v.d.emisor.rut = '76086428-4')],
  rut_dv_transportista: ['PV_RUT_DV', (t) => t === 52, (v) => (v.d.transporte.chofer.rut = '12345678-9')],
  rut_format: ['PV_RUT_FORMAT', (t) => !BOLETA.has(t) && !EXPORT.has(t), (v, r) => {
    const n = v.d.receptor.rut.replace(/\./g, '').split('-')[0];
    v.d.receptor.rut = pick(r, [n, `${n}/${computeDv(n)}`, `${n.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}-${computeDv(n)}`, `RUT ${n}-${computeDv(n)}`]);
  }],
  iva_wrong: ['PV_TOTAL_IVA', (t, v) => affectedNonBoleta(t) && (v.dte.encabezado.totales.iva ?? 0) > 100, (v, r) => {
    withTotals(v).iva = v.dte.encabezado.totales.iva + pick(r, [1, -1, 10, 100, -1000]) * int(r, 1, 9);
  }],
  iva_truncated: ['PV_TOTAL_IVA', (t, v) => affectedNonBoleta(t) && (v.dte.encabezado.totales.iva ?? 0) > 0, (v) => {
    const neto = v.dte.encabezado.totales.mntNeto;
    const iva = v.dte.encabezado.totales.iva;
    const trunc = Math.floor(neto * 0.19);
    withTotals(v).iva = trunc !== iva ? trunc : iva - 1;
  }],
  iva_rate: ['PV_IVA_RATE', (t, v) => affectedNonBoleta(t) && (v.dte.encabezado.totales.iva ?? 0) > 0, (v, r) => (withTotals(v).tasa_iva = pick(r, [18, 10, 20, 1.19]))],
  neto_wrong: ['PV_TOTAL_NETO', (t, v) => affectedNonBoleta(t) && (v.dte.encabezado.totales.mntNeto ?? 0) > 0, (v, r) => {
    withTotals(v).monto_neto = v.dte.encabezado.totales.mntNeto + int(r, 1, 5000);
  }],
  total_wrong: ['PV_TOTAL_MONTO', (t) => !BOLETA.has(t) && t !== 52, (v, r) => {
    const t = v.dte.encabezado.totales.mntTotal;
    withTotals(v).monto_total = EXPORT.has(Number(v.d.dte_type)) ? Math.round((t + int(r, 1, 500) / 10) * 100) / 100 : t + pick(r, [1, -1, 1000, 19, 190]);
  }],
  line_amount_wrong: ['PV_LINE_AMOUNT', (t, v) => t !== 43 && priced(v) >= 0, (v, r) => {
    const i = priced(v);
    const m = v.dte.detalle[i].montoItem;
    v.d.items[i].monto_total = m + (EXPORT.has(Number(v.d.dte_type)) ? 1.5 : pick(r, [1, 10, 1000, -1]));
  }],
  decimals: ['PV_ROUNDING', (t) => !EXPORT.has(t) && t !== 52 && !BOLETA.has(t), (v, r) => {
    const tt = withTotals(v);
    const k = pick(r, Object.keys(tt).filter((x) => tt[x] !== 0));
    tt[k] = tt[k] + pick(r, [0.5, 0.4, 0.19, 0.99]);
  }],
  negative_amount: ['PV_AMOUNT_NEGATIVE', (t) => t !== 43 && !BOLETA.has(t) && !EXPORT.has(t), (v, r) => {
    const it = v.d.items[0];
    delete it.precio_unitario;
    delete it.descuento_pct;
    it.monto_total = -int(r, 1, 500) * 100;
    delete v.d.totales;
  }],
  ref_missing: ['PV_REF_MISSING', (t) => NOTE.has(t), (v) => delete v.d.referencias],
  codref_missing: ['PV_REF_CODREF', (t) => NOTE.has(t), (v) => v.d.referencias.forEach((x) => delete x.codigo)],
  ref_date_after: ['PV_REF_DATE', (t, v) => NOTE.has(t) && v.d.fecha_emision !== undefined, (v, r) => (v.d.referencias[0].fecha = addDays(v.d.fecha_emision, int(r, 1, 30)))],
  date_future: ['PV_DATE_FUTURE', () => true, (v, r) => (v.d.fecha_emision = addDays(v.ctx.today, int(r, 4, 60)))],
  date_invalid: ['PV_DATE_INVALID', () => true, (v, r) => {
    const y = v.ctx.today.slice(0, 4);
    v.d.fecha_emision = pick(r, [`${y}-02-30`, `${y}-13-01`, `${v.ctx.today.slice(8, 10)}-${v.ctx.today.slice(5, 7)}-${y}`, `${y}/${v.ctx.today.slice(5, 7)}/01`, `${y}-06-31`]);
  }],
  caf_before_auth: ['PV_CAF_BEFORE_AUTH', () => true, (v, r) => {
    const caf = v.ctx.cafs.find((c) => c.tipoDte === Number(v.d.dte_type) && v.d.folio >= c.desde && v.d.folio <= c.hasta);
    caf.fechaAutorizacion = addDays(v.d.fecha_emision ?? v.ctx.today, int(r, 1, 25));
  }],
  caf_expired: ['PV_CAF_EXPIRED', (t) => [33, 43, 46, 56, 61].includes(t), (v, r) => {
    const caf = v.ctx.cafs.find((c) => c.tipoDte === Number(v.d.dte_type) && v.d.folio >= c.desde && v.d.folio <= c.hasta);
    caf.fechaAutorizacion = addDays(v.d.fecha_emision ?? v.ctx.today, -int(r, 186, 400));
  }],
  folio_out_of_caf: ['PV_FOLIO_OUT_OF_CAF', () => true, (v, r) => {
    const max = Math.max(...v.ctx.cafs.filter((c) => c.tipoDte === Number(v.d.dte_type)).map((c) => c.hasta));
    v.d.folio = max + int(r, 1, 3000);
  }],
  folio_duplicate: ['PV_FOLIO_DUPLICATE', () => true, (v) => v.ctx.seenFolios.push({ tipoDte: Number(v.d.dte_type), folio: v.d.folio })],
  field_length: ['PV_FIELD_LENGTH', () => true, (v, r) => {
    const x = r();
    if (x < 0.4) v.d.items[0].nombre = `${v.d.items[0].nombre} ${'con garantía extendida y despacho incluido '.repeat(3)}`;
    else if (x < 0.7 && !BOLETA.has(Number(v.d.dte_type))) v.d.receptor.razon_social = `${v.d.receptor.razon_social} ${'SOCIEDAD COMERCIAL E INVERSIONES '.repeat(3)}`;
    else if (x < 0.85) v.d.emisor.comuna = 'Pedro Aguirre Cerda Poniente';
    else v.d.items[0].unidad = 'CAJAS';
  }],
  latin1: ['PV_LATIN1', () => true, (v, r) => {
    if (r() < 0.6) v.d.items[0].nombre = `${v.d.items[0].nombre} ${pick(r, EMOJI)}`;
    else v.d.emisor.razon_social = `${v.d.emisor.razon_social} ${pick(r, EMOJI)}`;
  }],
  acteco: ['PV_ACTECO', (t) => !BOLETA.has(t), (v, r) => (v.d.emisor.acteco = [pick(r, [6202, 62020, 6202001, 722, 0, 1234567].filter((x) => x < 10_000 || x > 999_999))])],
  generic_receptor: ['PV_RECEPTOR_TYPE', (t) => !BOLETA.has(t) && !EXPORT.has(t), (v) => (v.d.receptor.rut = '66666666-6')],
  export_receptor: ['PV_RECEPTOR_TYPE', (t) => EXPORT.has(t), (v, r) => (v.d.receptor.rut = makeRut(r))],
  boleta_indservicio: ['PV_INDSERVICIO', (t) => BOLETA.has(t), (v, r) => {
    if (r() < 0.7) delete v.d.indicador_servicio;
    else v.d.indicador_servicio = pick(r, [5, 6]);
  }],
  export_currency: ['PV_EXPORT_CURRENCY', (t) => EXPORT.has(t), (v, r) => {
    const x = r();
    if (x < 0.4) delete v.d.moneda;
    else if (x < 0.7) delete v.d.otra_moneda;
    else v.d.otra_moneda.moneda = 'DOLAR USA';
  }],
  guia_traslado: ['PV_GUIA_TRASLADO', (t) => t === 52, (v) => delete v.d.indicador_traslado],
  receptor_required: ['PV_REQUIRED_FIELD', (t) => [33, 34, 43, 46, 52].includes(t), (v, r) => delete v.d.receptor[pick(r, ['giro', 'comuna', 'direccion', 'razon_social'])]],
  exenta_affected: ['PV_EXENTO', (t) => t === 34 || t === 41, (v) => (v.d.items[0].exento = false)],
  schema_type: ['PV_SCHEMA', () => true, (v, r) => {
    const x = r();
    if (x < 0.4) v.d.items[0].cantidad = String(v.d.items[0].cantidad ?? 1);
    else if (x < 0.7) v.d.items[0].precio_unitario = `$${v.d.items[0].precio_unitario ?? 1000}`;
    else v.d.emisor.razon_social = '';
  }],
  items_empty: ['PV_ITEMS', () => true, (v) => (v.d.items = [])],
};

const kindNames = Object.keys(KINDS);
const out = { clean: [], corrupted: [] };
for (let i = 0; i < N_CLEAN; i++) {
  const r = mulberry32(SEED + i);
  const tipo = TYPES[i % TYPES.length];
  const v = cleanVariant(r, tipo);
  out.clean.push({ id: `clean-${String(i + 1).padStart(4, '0')}`, kind: 'clean', expected: null, dte_data: v.d, ctx: v.ctx });
}
for (let i = 0, k = 0; i < N_CORRUPTED; k++) {
  const r = mulberry32(SEED + 100_000 + k);
  const kind = kindNames[i % kindNames.length];
  const [expected, applies, inject] = KINDS[kind];
  const tipo = pick(r, TYPES);
  const v = cleanVariant(r, tipo);
  if (!applies(tipo, v)) continue;
  inject(v, r);
  out.corrupted.push({ id: `bad-${String(i + 1).padStart(4, '0')}`, kind, expected, dte_data: v.d, ctx: v.ctx });
  i++;
}
const dir = path.join(here, 'data');
mkdirSync(dir, { recursive: true });
for (const [name, list] of Object.entries(out)) {
  writeFileSync(path.join(dir, `${name}.json`), `[\n${list.map((x) => JSON.stringify(x)).join(',\n')}\n]\n`);
}
console.log(`wrote ${out.clean.length} clean and ${out.corrupted.length} corrupted documents (${kindNames.length} violation kinds) to ${path.relative(root, dir)}`);
