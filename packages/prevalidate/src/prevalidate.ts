/**
 * Deterministic pre-validation of a DTE input document (the api-contract.md JSON shape) before it is
 * stamped and sent: everything the rules allow to check without the SII. Builds on @timbre/dte
 * (parseDteInput, inputToDte with stated totals and validateDte, writeDocumento for XSD lengths) and
 * adds what needs context (today, CAFs, folios already used, the company's recent rejections).
 *
 * Never throws: bad input of any kind is an issue. Pure given `ctx.today`.
 */
import { LATIN1_REPLACEMENTS, TimbreError, TimbreValidationError, inputToDte, isExportacion, modelPathToInputPath, parseDteInput, writeDocumento, type Dte, type DteInput } from '@timbre/dte';
import { PV_CODES, type PvCode, type Severity } from './codes.js';

export interface CafRange {
  tipoDte: number | string;
  desde: number;
  hasta: number;
  /** Authorization date FA, YYYY-MM-DD. */
  fechaAutorizacion: string;
}

export interface PrevalidateContext {
  /** Reference date YYYY-MM-DD (default: today in UTC). */
  today?: string;
  /** The company's CAFs (folio ranges and authorization dates). */
  cafs?: CafRange[];
  /** Folios already used (sent or stamped). */
  seenFolios?: Array<{ tipoDte: number | string; folio: number }>;
  /** The company's recent SII rejections: SII code (`REF-3-758`) or PV code, optional input field. */
  recentRejections?: Array<{ code: string; field?: string; message?: string }>;
  /** Industry (free text), for recommendations. */
  industry?: string;
}

export interface PrevalidateIssue {
  code: PvCode;
  /** Input path, e.g. `items[0].cantidad`, `totales.iva`; `input` for the document as a whole. */
  field: string;
  severity: Severity;
  /** Spanish. */
  message: string;
  /** The SII rejection the issue prevents. */
  sii_rejection?: string;
  expected?: unknown;
  actual?: unknown;
}

export interface PrevalidateResult {
  is_valid: boolean;
  issues: PrevalidateIssue[];
  recommendations: string[];
  confidence: number;
}

/** Limits on the raw input (a DTE is a few kB; the API body limit is far below these). */
export const LIMITS = { maxDepth: 24, maxNodes: 50_000, maxStringChars: 100_000, maxTotalChars: 2_000_000 } as const;

/** Types whose CAF expires 6 months after its authorization (CAF-3-517). */
const CAF_EXPIRES = new Set([33, 43, 46, 56, 61]);
const TIPOS_TRIBUTARIOS = new Set(['30', '32', '33', '34', '35', '38', '39', '40', '41', '43', '45', '46', '50', '52', '55', '56', '60', '61', '103', '110', '111', '112']);
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const LATIN1_OK = /^[\n\r\x20-\x7E\xA0-\xFF]*$/;

/** Max lengths (XSD, DTE_v10 / EnvioBOLETA_v11) of the free-text fields of the input. */
const MAX_LEN: Array<[RegExp, number]> = [
  [/^emisor\.razon_social$/, 100],
  [/^emisor\.giro$/, 80],
  [/^emisor\.direccion$/, 70],
  [/^emisor\.(comuna|ciudad)$/, 20],
  [/^emisor\.correo$/, 80],
  [/^receptor\.razon_social$/, 100],
  [/^receptor\.giro$/, 40],
  [/^receptor\.direccion$/, 70],
  [/^receptor\.(comuna|ciudad)$/, 20],
  [/^receptor\.(contacto|correo)$/, 80],
  [/^items\[\d+\]\.nombre$/, 80],
  [/^items\[\d+\]\.descripcion$/, 1000],
  [/^items\[\d+\]\.unidad$/, 4],
  [/^referencias\[\d+\]\.razon$/, 90],
  [/^referencias\[\d+\]\.folio$/, 18],
  [/^transporte\.(direccion_destino)$/, 70],
  [/^transporte\.(comuna_destino|ciudad_destino)$/, 20],
];

const dayNumber = (s: string): number => Date.UTC(Number(s.slice(0, 4)), Number(s.slice(5, 7)) - 1, Number(s.slice(8, 10))) / 86_400_000;
const validDate = (s: unknown): s is string => typeof s === 'string' && DATE_RE.test(s) && new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) === s;
function addMonths(s: string, n: number): string {
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(5, 7)) - 1 + n;
  const d = Number(s.slice(8, 10));
  const last = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, m, Math.min(d, last))).toISOString().slice(0, 10);
}
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const fmt = (v: unknown): string => (typeof v === 'string' ? `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"` : typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v));

/** Walk the raw value iteratively (no recursion: hostile nesting cannot overflow the stack). */
function measure(root: unknown): { depth: number; nodes: number; longest: { field: string; length: number }; total: number } {
  let depth = 0;
  let nodes = 0;
  let total = 0;
  let longest = { field: 'input', length: 0 };
  const stack: Array<[unknown, number, string]> = [[root, 0, '']];
  while (stack.length > 0) {
    const [v, dp, path] = stack.pop() as [unknown, number, string];
    nodes++;
    if (dp > depth) depth = dp;
    if (dp > LIMITS.maxDepth || nodes > LIMITS.maxNodes) break;
    if (typeof v === 'string') {
      total += v.length;
      if (v.length > longest.length) longest = { field: path || 'input', length: v.length };
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, dp + 1, `${path}[${i}]`]));
    } else if (isObj(v)) {
      for (const k of Object.keys(v)) {
        total += k.length;
        stack.push([v[k], dp + 1, path ? `${path}.${k}` : k]);
      }
    }
  }
  return { depth, nodes, longest, total };
}

/** Every string of the raw input with its path. */
function strings(root: unknown): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const stack: Array<[unknown, string]> = [[root, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string];
    if (typeof v === 'string') out.push([path, v]);
    else if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, `${path}[${i}]`]));
    else if (isObj(v)) for (const k of Object.keys(v)) stack.push([v[k], path ? `${path}.${k}` : k]);
  }
  return out.reverse();
}

// ------------------------------------------------------------------------------------------------
// mapping @timbre/dte errors to codes
// ------------------------------------------------------------------------------------------------

function codeOf(e: TimbreError, stage: 'parse' | 'build'): PvCode {
  const f = e.field ?? '';
  const m = e.message;
  switch (e.code) {
    case 'ERR_RUT_INVALID':
      return /is not of the form/.test(m) ? 'PV_RUT_FORMAT' : 'PV_RUT_DV';
    case 'ERR_CHAR_NOT_LATIN1':
      return 'PV_LATIN1';
    case 'ERR_FIELD_TOO_LONG':
      return 'PV_FIELD_LENGTH';
    case 'ERR_TOTALS_MISMATCH':
      if (f === 'totales.iva') return 'PV_TOTAL_IVA';
      if (f === 'totales.tasa_iva') return 'PV_IVA_RATE';
      if (f === 'totales.monto_neto') return 'PV_TOTAL_NETO';
      if (f === 'totales.monto_exento') return 'PV_TOTAL_EXENTO';
      if (f === 'totales.monto_total') return 'PV_TOTAL_MONTO';
      if (f.startsWith('items')) return 'PV_LINE_AMOUNT';
      return 'PV_TOTALS';
    default:
      break;
  }
  if (stage === 'parse') {
    if (/unknown field/.test(m)) return 'PV_UNKNOWN_FIELD';
    if (/check digit is wrong/.test(m)) return 'PV_RUT_DV';
    if (/RUT/.test(m)) return 'PV_RUT_FORMAT';
    if (/(^|\.)acteco/.test(f)) return 'PV_ACTECO';
    if (f === 'dte_type') return 'PV_DTE_TYPE';
    if (f === 'items') return 'PV_ITEMS';
    if (/expected a date/.test(m)) return 'PV_DATE_INVALID';
    if (f === 'input') return 'PV_INPUT_INVALID';
    return 'PV_SCHEMA';
  }
  if (e.siiCode === 'REF-3-758') return 'PV_REF_CODREF';
  if (e.siiCode === 'REF-3-415') return f === 'referencias' ? 'PV_REF_MISSING' : 'PV_REF_INVALID';
  if (f.startsWith('referencias')) return 'PV_REF_INVALID';
  if (f === 'receptor.rut') return 'PV_RECEPTOR_TYPE';
  if (f === 'indicador_servicio') return 'PV_INDSERVICIO';
  if (f === 'indicador_traslado') return 'PV_GUIA_TRASLADO';
  if (f === 'moneda' || f.startsWith('otra_moneda')) return 'PV_EXPORT_CURRENCY';
  if (f.startsWith('transporte.aduana')) return 'PV_EXPORT_ADUANA';
  if (/^emisor\.acteco/.test(f)) return 'PV_ACTECO';
  if (/^items\[\d+\]\.(exento|indicador_exencion)$/.test(f) || (f === 'items' && /exempt/.test(m))) return 'PV_EXENTO';
  if (/^items\[\d+\]\.monto_total$/.test(f) && /negative/.test(m)) return 'PV_AMOUNT_NEGATIVE';
  if (/^totales\./.test(f) && /negative/.test(m)) return 'PV_AMOUNT_NEGATIVE';
  if (/whole pesos/.test(m)) return 'PV_ROUNDING';
  if (/^(emisor|receptor|transporte)\./.test(f) && /needs|mandatory|must not be empty/.test(m)) return 'PV_REQUIRED_FIELD';
  if (f === 'fecha_emision') return 'PV_DATE_INVALID';
  if (f.startsWith('totales')) return 'PV_TOTALS';
  return 'PV_RULE';
}

function spanish(code: PvCode, field: string, expected?: unknown, actual?: unknown): string {
  const exp = expected === undefined ? '' : `; se esperaba ${fmt(expected)}`;
  const act = actual === undefined ? '' : ` (valor: ${fmt(actual)})`;
  switch (code) {
    case 'PV_RUT_DV': return `El RUT en ${field} tiene un dígito verificador incorrecto${act}${expected === undefined ? '' : `; el correcto es ${fmt(expected)}`}.`;
    case 'PV_RUT_FORMAT': return `El RUT en ${field} no tiene el formato 12345678-9${act}.`;
    case 'PV_ACTECO': return `El código de actividad económica en ${field} no es un código SII de 6 dígitos${act}.`;
    case 'PV_TOTAL_IVA': return `El IVA declarado${act} no corresponde a round(neto × 19 %)${exp}.`;
    case 'PV_IVA_RATE': return `La tasa de IVA declarada${act} no es la vigente${exp}.`;
    case 'PV_TOTAL_NETO': return `El monto neto declarado${act} no cuadra con las líneas${exp}.`;
    case 'PV_TOTAL_EXENTO': return `El monto exento declarado${act} no cuadra con las líneas exentas${exp}.`;
    case 'PV_TOTAL_MONTO': return `El monto total declarado${act} no cuadra con neto, exento e impuestos${exp}.`;
    case 'PV_TOTALS': return `El total ${field}${act} no cuadra con las líneas${exp}.`;
    case 'PV_LINE_AMOUNT': return `El monto de la línea ${field}${act} no es cantidad × precio − descuento + recargo${exp}.`;
    case 'PV_ROUNDING': return `El monto ${field}${act} tiene decimales: los documentos en pesos usan montos enteros.`;
    case 'PV_AMOUNT_NEGATIVE': return `El monto ${field}${act} es negativo: sólo la liquidación-factura (43) admite montos negativos.`;
    case 'PV_REF_MISSING': return 'La nota de crédito/débito no referencia el documento que modifica.';
    case 'PV_REF_CODREF': return `La referencia ${field} de la nota no indica CodRef (1 anula, 2 corrige texto, 3 corrige montos).`;
    case 'PV_REF_INVALID': return `La referencia ${field} no es válida para este tipo de documento${act}.`;
    case 'PV_REF_DATE': return `La fecha del documento referenciado en ${field}${act} es posterior a la fecha de emisión${exp}.`;
    case 'PV_DATE_INVALID': return `La fecha en ${field} no es una fecha válida AAAA-MM-DD${act}.`;
    case 'PV_DATE_FUTURE': return `La fecha de emisión${act} está más de 3 días en el futuro respecto de hoy${exp}.`;
    case 'PV_DATE_LATE': return `La fecha de emisión${act} tiene más de 3 días: el SII lo aceptará con reparo si se recibe fuera de plazo.`;
    case 'PV_DATE_ORDER': return `La fecha de vencimiento${act} es anterior a la fecha de emisión${exp}.`;
    case 'PV_CAF_BEFORE_AUTH': return `La fecha de emisión${act} es anterior a la autorización del CAF del folio${exp}.`;
    case 'PV_CAF_EXPIRED': return `El CAF del folio venció: fue autorizado hace más de 6 meses${exp}${act}.`;
    case 'PV_FOLIO_OUT_OF_CAF': return `El folio${act} no pertenece a ningún CAF autorizado para este tipo de documento.`;
    case 'PV_FOLIO_DUPLICATE': return `El folio${act} ya fue usado en otro documento del mismo tipo.`;
    case 'PV_FIELD_LENGTH': return `El texto de ${field} supera el largo máximo${expected === undefined ? '' : ` de ${String(expected)} caracteres`}${actual === undefined ? '' : ` (tiene ${String(actual)})`}.`;
    case 'PV_LATIN1': return `El texto de ${field} contiene caracteres fuera de ISO-8859-1 (Latin-1)${act}.`;
    case 'PV_LATIN1_REPLACED': return `El texto de ${field} contiene caracteres que se reemplazarán por equivalentes Latin-1${act}.`;
    case 'PV_RECEPTOR_TYPE': return `El RUT del receptor${act} no corresponde al tipo de documento${exp}.`;
    case 'PV_INDSERVICIO': return `El indicador de servicio${act} falta o no es válido para este tipo de documento.`;
    case 'PV_GUIA_TRASLADO': return 'La guía de despacho no indica el tipo de traslado (indicador_traslado).';
    case 'PV_EXPORT_CURRENCY': return `Falta o no es válida la moneda del documento de exportación en ${field}${act}${exp}.`;
    case 'PV_EXPORT_ADUANA': return `Falta o no es válido el dato de aduana ${field}${act}.`;
    case 'PV_EXENTO': return `La exención de ${field} no es coherente con el tipo de documento.`;
    case 'PV_REQUIRED_FIELD': return `Falta el dato obligatorio ${field} para este tipo de documento.`;
    case 'PV_SCHEMA': return `El campo ${field} no tiene el tipo o formato esperado${act}.`;
    case 'PV_UNKNOWN_FIELD': return `El campo ${field} no existe en el formato del documento.`;
    case 'PV_DTE_TYPE': return `El tipo de documento${act} no es un tipo de DTE soportado.`;
    case 'PV_ITEMS': return `El detalle (${field}) no es válido: un documento tiene entre 1 y 60 líneas.`;
    case 'PV_INPUT_INVALID': return 'El documento no es un objeto JSON con la forma esperada.';
    case 'PV_INPUT_TOO_LARGE': return `El documento es demasiado grande (${field}${actual === undefined ? '' : `: ${String(actual)} caracteres`}).`;
    case 'PV_INPUT_TOO_DEEP': return 'El documento tiene un anidamiento excesivo.';
    case 'PV_RECENT_REJECTION': return `El campo ${field} causó un rechazo reciente del SII${act}.`;
    case 'PV_INTERNAL': return `No se pudo completar una verificación${act}.`;
    default: return `Regla del SII no cumplida en ${field}${act}.`;
  }
}

// ------------------------------------------------------------------------------------------------
// prevalidate
// ------------------------------------------------------------------------------------------------

class Collector {
  readonly issues: PrevalidateIssue[] = [];
  private readonly seen = new Set<string>();
  add(code: PvCode, field: string, opts: { expected?: unknown; actual?: unknown; severity?: Severity; detail?: string } = {}): void {
    const key = `${code}|${field}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const info = PV_CODES[code] as { severity: Severity; sii?: string };
    let message = spanish(code, field, opts.expected, opts.actual);
    if (opts.detail && (code === 'PV_RULE' || code === 'PV_REQUIRED_FIELD' || code === 'PV_REF_INVALID' || code === 'PV_EXPORT_ADUANA' || code === 'PV_SCHEMA' || code === 'PV_INTERNAL')) {
      message += ` Detalle: ${opts.detail}`;
    }
    const issue: PrevalidateIssue = { code, field, severity: opts.severity ?? info.severity, message };
    if (info.sii !== undefined) issue.sii_rejection = info.sii;
    if (opts.expected !== undefined) issue.expected = opts.expected;
    if (opts.actual !== undefined && (typeof opts.actual !== 'string' || opts.actual.length <= 200)) issue.actual = opts.actual;
    this.issues.push(issue);
  }
  fromTimbre(e: unknown, stage: 'parse' | 'build'): void {
    const list = e instanceof TimbreValidationError ? e.issues : e instanceof TimbreError ? [e] : null;
    if (!list) {
      this.add('PV_INTERNAL', 'input', { detail: e instanceof Error ? e.message : String(e) });
      return;
    }
    for (const x of list) {
      const code = codeOf(x, stage);
      const field = x.field ?? 'input';
      const detail = x.message.replace(/^[\w.[\]]+: /, '');
      this.add(code, field, { expected: x.expected, actual: x.actual, detail });
    }
  }
}

/** Pre-validate a document. Never throws. */
export function prevalidate(dteData: unknown, ctx: PrevalidateContext = {}): PrevalidateResult {
  const c = new Collector();
  let checksRun = 0;
  let checksPossible = 0;
  try {
    checksPossible = run(dteData, ctx, c, (n) => (checksRun += n));
  } catch (e) {
    c.add('PV_INTERNAL', 'input', { detail: e instanceof Error ? e.message.slice(0, 200) : 'unknown' });
  }
  return finish(c, ctx, checksRun, checksPossible);
}

/** Returns how many context checks were possible (for the confidence). */
function run(raw: unknown, ctx: PrevalidateContext, c: Collector, ran: (n: number) => void): number {
  const today = validDate(ctx.today) ? ctx.today : new Date().toISOString().slice(0, 10);
  if (!isObj(raw)) {
    c.add('PV_INPUT_INVALID', 'input', { actual: raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw });
    return 0;
  }
  const size = measure(raw);
  if (size.depth > LIMITS.maxDepth) {
    c.add('PV_INPUT_TOO_DEEP', 'input', { expected: LIMITS.maxDepth });
    return 0;
  }
  if (size.nodes > LIMITS.maxNodes || size.total > LIMITS.maxTotalChars || size.longest.length > LIMITS.maxStringChars) {
    c.add('PV_INPUT_TOO_LARGE', size.longest.length > LIMITS.maxStringChars ? size.longest.field : 'input', { actual: size.longest.length > LIMITS.maxStringChars ? size.longest.length : size.total });
    return 0;
  }

  const tipo = Number(raw.dte_type);
  const exp = isExportacion(tipo as never);
  const fecha = raw.fecha_emision;
  const folio = typeof raw.folio === 'number' ? raw.folio : undefined;

  // ---- schema ----
  let input: DteInput | undefined;
  try {
    input = parseDteInput(raw);
  } catch (e) {
    c.fromTimbre(e, 'parse');
  }

  // ---- raw checks that need no valid schema ----
  for (const [path, s] of strings(raw)) {
    if (!LATIN1_OK.test(s)) {
      const bad = [...s].filter((ch) => !LATIN1_OK.test(ch));
      const replaceable = bad.every((ch) => LATIN1_REPLACEMENTS[ch] !== undefined || /\p{L}/u.test(ch.normalize('NFD').charAt(0)));
      if (replaceable) c.add('PV_LATIN1_REPLACED', path, { actual: bad.join('') });
      else c.add('PV_LATIN1', path, { actual: bad.join('') });
    }
    const rule = MAX_LEN.find(([re]) => re.test(path));
    const len = s.trim().length;
    if (rule && len > rule[1]) c.add('PV_FIELD_LENGTH', path, { expected: rule[1], actual: len });
  }
  const em = isObj(raw.emisor) ? raw.emisor : undefined;
  if (em && Array.isArray(em.acteco) && tipo !== 39 && tipo !== 41) {
    em.acteco.forEach((a, i) => {
      // Six digits, the first two the division 01–99: 011101 … 990000 (as a number ≥ 10000).
      if (typeof a === 'number' && Number.isInteger(a) && (a < 10_000 || a > 999_999)) c.add('PV_ACTECO', `emisor.acteco[${i}]`, { actual: a });
    });
  }
  if (!exp) {
    const amounts: Array<[string, unknown]> = [];
    if (Array.isArray(raw.items)) raw.items.forEach((it, i) => isObj(it) && amounts.push([`items[${i}].monto_total`, it.monto_total], [`items[${i}].descuento_monto`, it.descuento_monto], [`items[${i}].recargo_monto`, it.recargo_monto]));
    if (isObj(raw.totales)) for (const [k, v] of Object.entries(raw.totales)) if (k !== 'tasa_iva') amounts.push([`totales.${k}`, v]);
    for (const [f, v] of amounts) if (typeof v === 'number' && Number.isFinite(v) && !Number.isInteger(v)) c.add('PV_ROUNDING', f, { actual: v, expected: roundHalfAway(v) });
  }
  if (isObj(raw.totales) && typeof raw.totales.tasa_iva === 'number' && !exp && raw.totales.tasa_iva !== 19) c.add('PV_IVA_RATE', 'totales.tasa_iva', { actual: raw.totales.tasa_iva, expected: 19 });

  // ---- dates ----
  let possible = 1;
  if (validDate(fecha)) {
    ran(1);
    const delta = dayNumber(fecha) - dayNumber(today);
    if (delta > 3) c.add('PV_DATE_FUTURE', 'fecha_emision', { actual: fecha, expected: `≤ ${addDays(today, 3)}` });
    else if (delta < -3) c.add('PV_DATE_LATE', 'fecha_emision', { actual: fecha });
    if (validDate(raw.fecha_vencimiento) && raw.fecha_vencimiento < fecha) c.add('PV_DATE_ORDER', 'fecha_vencimiento', { actual: raw.fecha_vencimiento, expected: `≥ ${fecha}` });
    if (Array.isArray(raw.referencias)) {
      raw.referencias.forEach((r, i) => {
        if (isObj(r) && validDate(r.fecha) && r.fecha > fecha && TIPOS_TRIBUTARIOS.has(String(r.tipo_documento))) {
          c.add('PV_REF_DATE', `referencias[${i}].fecha`, { actual: r.fecha, expected: `≤ ${fecha}` });
        }
      });
    }
  } else if (fecha === undefined) {
    // Absent: the signing date (today) is used: fine.
  }

  // ---- folios and CAF ----
  if (folio !== undefined && folio > 0 && Number.isFinite(tipo)) {
    possible += 2;
    if (Array.isArray(ctx.seenFolios)) {
      ran(1);
      if (ctx.seenFolios.some((s) => Number(s?.tipoDte) === tipo && Number(s?.folio) === folio)) c.add('PV_FOLIO_DUPLICATE', 'folio', { actual: folio });
    }
    const cafs = Array.isArray(ctx.cafs) ? ctx.cafs.filter((k) => Number(k?.tipoDte) === tipo) : [];
    if (Array.isArray(ctx.cafs)) {
      ran(1);
      const caf = cafs.find((k) => folio >= Number(k.desde) && folio <= Number(k.hasta));
      if (!caf) c.add('PV_FOLIO_OUT_OF_CAF', 'folio', { actual: folio });
      else if (validDate(caf.fechaAutorizacion)) {
        const emision = validDate(fecha) ? fecha : today;
        if (emision < caf.fechaAutorizacion) c.add('PV_CAF_BEFORE_AUTH', 'fecha_emision', { actual: emision, expected: `≥ ${caf.fechaAutorizacion}` });
        const vence = addMonths(caf.fechaAutorizacion, 6);
        if (CAF_EXPIRES.has(tipo) && emision > vence) c.add('PV_CAF_EXPIRED', 'folio', { actual: `autorizado ${caf.fechaAutorizacion}`, expected: `vencimiento ${vence}` });
      }
    }
  }

  // ---- build: normalization, stated totals, per-type rules ----
  if (input) {
    let dte: Dte | undefined;
    try {
      // Folio 0 or absent: the DTE service allocates it when issuing (api-contract.md), so the rules
      // run on a placeholder folio — prevalidation normally happens before a folio exists.
      dte = inputToDte(input, { fchEmis: today, folio: 1 });
    } catch (e) {
      c.fromTimbre(e, 'build');
    }
    // ---- XSD lengths and formats of everything else (first problem only) ----
    if (dte) {
      try {
        writeDocumento(dte, { id: 'PV', tedXml: '<TED></TED>', tmstFirma: `${dte.encabezado.idDoc.fchEmis}T12:00:00` });
      } catch (e) {
        if (e instanceof TimbreError) {
          const field = e.field ? modelPathToInputPath(e.field, input) : 'input';
          const code: PvCode = e.code === 'ERR_FIELD_TOO_LONG' ? 'PV_FIELD_LENGTH' : e.code === 'ERR_CHAR_NOT_LATIN1' ? 'PV_LATIN1' : e.code === 'ERR_RUT_INVALID' ? 'PV_RUT_FORMAT' : 'PV_RULE';
          c.add(code, field, { expected: e.expected, actual: e.actual, detail: e.message });
        } else throw e;
      }
    }
  }

  // ---- the company's recent rejections ----
  const rej = Array.isArray(ctx.recentRejections) ? ctx.recentRejections : [];
  for (const r of rej) {
    if (!isObj(r) || typeof r.code !== 'string') continue;
    const hit = c.issues.find((i) => i.code === r.code || (i.sii_rejection !== undefined && i.sii_rejection.includes(r.code)));
    if (hit && hit.severity === 'warning') hit.severity = 'error';
    if (typeof r.field === 'string' && !hit && hasPath(raw, r.field)) c.add('PV_RECENT_REJECTION', r.field, { actual: r.code });
  }
  return possible;
}

const addDays = (s: string, n: number): string => new Date((dayNumber(s) + n) * 86_400_000).toISOString().slice(0, 10);
const roundHalfAway = (v: number): number => Math.sign(v) * Math.round(Math.abs(v));

function hasPath(root: unknown, path: string): boolean {
  let v: unknown = root;
  for (const part of path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '')) {
    if (Array.isArray(v)) v = v[Number(part)];
    else if (isObj(v)) v = v[part];
    else return false;
  }
  return v !== undefined;
}

function finish(c: Collector, ctx: PrevalidateContext, ran: number, possible: number): PrevalidateResult {
  const order: Record<Severity, number> = { error: 0, warning: 1, info: 2 };
  const issues = c.issues.slice().sort((a, b) => order[a.severity] - order[b.severity]);
  const errors = issues.filter((i) => i.severity === 'error').length;
  const recommendations: string[] = [];
  for (const i of issues) {
    const fix = (PV_CODES[i.code] as { fix: string }).fix;
    if (!recommendations.includes(fix)) recommendations.push(fix);
  }
  const rejCodes = (ctx.recentRejections ?? []).map((r) => r?.code).filter((x): x is string => typeof x === 'string');
  if (rejCodes.length > 0) {
    const top = [...new Set(rejCodes)].slice(0, 3).join(', ');
    recommendations.push(`Su empresa tuvo rechazos recientes del SII (${top}): revise esos puntos antes de enviar.`);
  }
  const ind = typeof ctx.industry === 'string' ? ctx.industry.toLowerCase() : '';
  if (/constru/.test(ind)) recommendations.push('Empresas constructoras: evalúe el crédito especial del 65 % del IVA (credito_especial_constructoras) en ventas de inmuebles habitacionales.');
  if (/export/.test(ind)) recommendations.push('Exportadores: la conversión a pesos (otra_moneda) es obligatoria en 110, 111 y 112 desde 2017.');
  // Errors found by deterministic rules are certain; a clean verdict is as good as the context given.
  const confidence = errors > 0 ? 0.99 : Math.max(0.5, 0.97 - 0.04 * Math.max(0, possible - ran));
  return { is_valid: errors === 0, issues, recommendations, confidence: Math.round(confidence * 100) / 100 };
}

/** Adapter for the HTTP body's `company_context` (`{industry, historical_errors}`). */
export function contextFromCompany(companyContext: unknown, extra: PrevalidateContext = {}): PrevalidateContext {
  const out: PrevalidateContext = { ...extra };
  if (!isObj(companyContext)) return out;
  if (typeof companyContext.industry === 'string') out.industry = companyContext.industry;
  const h = companyContext.historical_errors;
  if (Array.isArray(h)) {
    out.recentRejections = h
      .map((x) => (typeof x === 'string' ? { code: x } : isObj(x) && typeof x.code === 'string' ? { code: x.code, ...(typeof x.field === 'string' ? { field: x.field } : {}), ...(typeof x.message === 'string' ? { message: x.message } : {}) } : undefined))
      .filter((x): x is { code: string } => x !== undefined)
      .slice(0, 100);
  }
  return out;
}
