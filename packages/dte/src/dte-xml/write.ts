/**
 * Writes the `<Documento>` (`<Liquidacion>`, `<Exportaciones>`) element of a DTE from the typed
 * model, driven by the field tables of fields.ts. The text is already its own C14N 1.0 form:
 * no self-closing tags, no empty optional elements, C14N escaping, no namespace declaration (it
 * inherits `xmlns="http://www.sii.cl/SiiDte"` from `<DTE>`), one newline between consecutive
 * elements and no indentation. So the signer can digest it without re-parsing.
 *
 * Values are checked against the XSD facets as they are written (lengths after Latin-1
 * replacement, numeric ranges and decimals, enumerations, RUT/date formats, occurrences) and
 * model properties that the branch has no element for are refused instead of silently dropped.
 */
import { TimbreError } from '../errors.js';
import { formatDecimal } from '../amounts.js';
import type { Dte } from '../model.js';
import { escapeAttr, escapeText, toLatin1Text, XML_DECLARATION, type NonLatin1Policy } from '../xml/text.js';
import { branchOf, FECHA_HORA, type FieldDef, type FieldKind, type ScalarKind, type Table } from './fields.js';

export interface WriteDocumentoOptions {
  /** `Documento/@ID` (xs:ID, an NCName), e.g. `T33F1`. */
  id: string;
  /** The `<TED …>…</TED>` element, inserted verbatim (it must already be in its C14N form). */
  tedXml: string;
  /** `TmstFirma`, `YYYY-MM-DDTHH:MM:SS` (local time, no zone). */
  tmstFirma: string;
  /** Characters outside Latin-1: replace the known ones (default) or refuse any. */
  nonLatin1?: NonLatin1Policy;
}

export interface WriteDteOptions extends WriteDocumentoOptions {
  /** The `<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">…</Signature>` element. */
  signatureXml: string;
}

const NS_SII_DTE = 'http://www.sii.cl/SiiDte';

// ---- compiled tables (built once per table, shared between branches) ----

interface CField {
  readonly def: FieldDef;
  readonly key: string;
  /** Dotted model path split, when the key is not a direct property. */
  readonly path: readonly string[] | undefined;
  readonly kind: FieldKind;
  readonly item: ScalarKind;
  readonly required: boolean;
  readonly maxOccurs: number;
  readonly open: string;
  readonly close: string;
  readonly values: ReadonlySet<string | number> | undefined;
  readonly table: CTable | undefined;
}

interface CTable {
  readonly xsd: string;
  readonly fields: readonly CField[];
  /** Model property → position in `fields` (direct properties only). */
  readonly index: ReadonlyMap<string, number>;
  /** Positions of fields with a dotted model path. */
  readonly dotted: readonly number[];
  /** Properties that may be present without being written here. */
  readonly allowed: ReadonlySet<string>;
}

const compiled = new WeakMap<Table, CTable>();

function compile(t: Table): CTable {
  const hit = compiled.get(t);
  if (hit) return hit;
  const allowed = new Set<string>(t.ignore ?? []);
  const fields = t.fields.map((def): CField => {
    const segments = def.key.split('.');
    if (segments.length > 1) allowed.add(segments[0] as string);
    return {
      def,
      key: def.key,
      path: segments.length > 1 ? segments : undefined,
      kind: def.kind,
      item: def.item ?? 'string',
      required: def.required === true,
      maxOccurs: def.maxOccurs ?? 1,
      open: `\n<${def.xml}>`,
      close: `</${def.xml}>`,
      values: def.values ? new Set(def.values) : undefined,
      table: def.table ? compile(def.table) : undefined,
    };
  });
  const index = new Map<string, number>();
  const dotted: number[] = [];
  fields.forEach((f, i) => (f.path ? dotted.push(i) : index.set(f.key, i)));
  const c: CTable = { xsd: t.xsd, fields, index, dotted, allowed };
  compiled.set(t, c);
  return c;
}

// ---- errors ----

const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

function invalid(field: string, message: string, extra: { expected?: unknown; actual?: unknown } = {}): TimbreError {
  return new TimbreError('ERR_INPUT_INVALID', `${field}: ${message}`, { field, ...extra });
}

function missing(f: CField, path: string): TimbreError {
  const field = join(path, f.key);
  return new TimbreError('ERR_INPUT_INVALID', `${field}: mandatory element <${f.def.xml}> is missing`, { field });
}

// ---- scalars ----

/** Printable ASCII that needs neither Latin-1 replacement nor escaping (no & < >). */
const PLAIN = /^[\x20-\x25\x27-\x3B\x3D\x3F-\x7E]*$/;
const PRINTABLE_ASCII = /^[\x20-\x7E]*$/;
const RUT_RE = /^[0-9]+-[0-9K]$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/;
const NCNAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

function validDate(m: RegExpExecArray): boolean {
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  const dim = mo === 2 ? (y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28) : mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
  if (d > dim) return false;
  if (m.length > 4) return Number(m[4]) <= 23 && Number(m[5]) <= 59 && Number(m[6]) <= 59;
  return true;
}

/**
 * Decimal text without exponent or trailing zeros, rounded half away from zero to `decimals`
 * places: the rule of amounts.ts (`formatDecimal`, also used for the TED's MNT), with a fast path
 * for the common case where the shortest representation already fits (≤ 15 significant digits and
 * ≤ `decimals` places), in which both give `String(v)`.
 */
function decimalText(v: number, decimals: number): string {
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v === 0 ? '0' : String(v);
  const s = String(v);
  const dot = s.indexOf('.');
  if (dot !== -1 && s.indexOf('e') === -1 && s.length - dot - 1 <= decimals) {
    let sig = 0;
    let leading = true;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) continue;
      if (leading && c === 48) continue;
      leading = false;
      sig++;
    }
    if (sig <= 15) return s;
  }
  return formatDecimal(v, decimals);
}

/** Model path of a field (`detalle[3].nmbItem`), or of an item of a list (`emisor.acteco[1]`). */
const fname = (path: string, f: CField, index: number): string => (index < 0 ? join(path, f.key) : `${join(path, f.key)}[${index}]`);

/** The escaped text of a scalar, or undefined for an empty string (treated as absent). */
function scalar(f: CField, kind: ScalarKind, v: unknown, path: string, index: number, policy: NonLatin1Policy): string | undefined {
  const def = f.def;
  switch (kind) {
    case 'string': {
      let s: string;
      if (typeof v === 'string') s = v;
      else if (typeof v === 'number' && Number.isFinite(v)) s = String(v);
      else throw invalid(fname(path, f, index), `must be a string, got ${typeof v}`, { actual: v });
      s = s.trim();
      if (s === '') return undefined;
      const plain = PLAIN.test(s);
      if (!plain && !PRINTABLE_ASCII.test(s)) {
        s = toLatin1Text(s, fname(path, f, index), policy).trim();
        if (s === '') return undefined;
      }
      const max = def.maxLength;
      if (max !== undefined && s.length > max) {
        const name = fname(path, f, index);
        throw new TimbreError('ERR_FIELD_TOO_LONG', `${name}: ${s.length} characters, at most ${max} allowed in <${def.xml}>`, {
          field: name,
          expected: max,
          actual: s.length,
        });
      }
      if (def.minLength !== undefined && s.length < def.minLength) {
        throw invalid(fname(path, f, index), `at least ${def.minLength} characters required in <${def.xml}>`, { expected: def.minLength, actual: s.length });
      }
      if (def.pattern && !def.pattern.test(s)) throw invalid(fname(path, f, index), `"${s}" does not match ${String(def.pattern)}`, { actual: s });
      return plain ? s : escapeText(s);
    }
    case 'int': {
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(fname(path, f, index), `must be an integer, got ${String(v)}`, { actual: v });
      if ((def.min !== undefined && v < def.min) || (def.max !== undefined && v > def.max)) {
        throw invalid(fname(path, f, index), `${v} is outside ${def.min ?? '-∞'}..${def.max ?? '∞'} (<${def.xml}>)`, { expected: [def.min, def.max], actual: v });
      }
      return v === 0 ? '0' : String(v);
    }
    case 'decimal': {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(fname(path, f, index), `must be a finite number, got ${String(v)}`, { actual: v });
      if (Math.abs(v) >= 1e21) throw invalid(fname(path, f, index), `${v} is out of range`, { actual: v });
      const text = decimalText(v, def.decimals ?? 0);
      const r = Number(text);
      if ((def.min !== undefined && r < def.min) || (def.max !== undefined && r > def.max)) {
        throw invalid(fname(path, f, index), `${text} is outside ${def.min ?? '-∞'}..${def.max ?? '∞'} (<${def.xml}>)`, { expected: [def.min, def.max], actual: v });
      }
      return text;
    }
    case 'enum': {
      if (!f.values?.has(v as string | number)) {
        throw invalid(fname(path, f, index), `${JSON.stringify(v)} is not one of ${[...(f.values ?? [])].join(', ')} (<${def.xml}>)`, {
          expected: def.values,
          actual: v,
        });
      }
      return typeof v === 'string' ? escapeText(v) : String(v);
    }
    case 'rut': {
      const s = typeof v === 'string' ? v.trim() : '';
      if (s === '' && typeof v === 'string') return undefined;
      if (!RUT_RE.test(s) || s.length < 3 || s.length > 10) {
        const name = fname(path, f, index);
        throw new TimbreError('ERR_RUT_INVALID', `${name}: ${JSON.stringify(v)} is not a RUT in SII format (digits-DV, no dots, upper-case K)`, {
          field: name,
          actual: v,
        });
      }
      return s;
    }
    case 'date':
    case 'datetime': {
      const s = typeof v === 'string' ? v.trim() : '';
      if (s === '' && typeof v === 'string') return undefined;
      const m = (kind === 'date' ? DATE_RE : DATETIME_RE).exec(s);
      const range = def.range;
      if (!m || !validDate(m) || (range !== undefined && (s < range[0] || s > range[1]))) {
        throw invalid(fname(path, f, index), `${JSON.stringify(v)} is not a valid ${kind === 'date' ? 'YYYY-MM-DD date' : 'YYYY-MM-DDTHH:MM:SS timestamp'}${range ? ` in ${range[0]}..${range[1]}` : ''}`, {
          expected: range,
          actual: v,
        });
      }
      return s;
    }
  }
}

// ---- elements ----

const isPresent = (v: unknown): boolean => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);

function get(obj: Record<string, unknown>, f: CField): unknown {
  if (!f.path) return obj[f.key];
  let cur: unknown = obj;
  for (const k of f.path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** The children of one element (each preceded by a newline), or '' when none is present. */
function writeChildren(obj: unknown, t: CTable, path: string, policy: NonLatin1Policy): string {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw invalid(path || 'dte', `must be an object (<${t.xsd}>)`, { actual: obj });
  const o = obj as Record<string, unknown>;
  // One pass over the properties present (models are sparse): slot them in XSD order and refuse
  // those the branch has no element for.
  const vals: unknown[] = new Array<unknown>(t.fields.length);
  for (const k in o) {
    const i = t.index.get(k);
    if (i !== undefined) vals[i] = o[k];
    else if (!t.allowed.has(k) && isPresent(o[k])) {
      throw invalid(join(path, k), `there is no such element in ${t.xsd} (this document type cannot carry it)`);
    }
  }
  for (const i of t.dotted) vals[i] = get(o, t.fields[i] as CField);
  let out = '';
  const fields = t.fields;
  for (let fi = 0; fi < fields.length; fi++) {
    const f = fields[fi] as CField;
    const v = vals[fi];
    if (v === undefined || v === null) {
      if (f.required) throw missing(f, path);
      continue;
    }
    if (f.kind === 'element') {
      const table = f.table as CTable;
      if (f.maxOccurs > 1) {
        const fp = join(path, f.key);
        if (!Array.isArray(v)) throw invalid(fp, 'must be an array', { actual: v });
        if (v.length > f.maxOccurs) throw invalid(fp, `at most ${f.maxOccurs} <${f.def.xml}> allowed, got ${v.length}`, { expected: f.maxOccurs, actual: v.length });
        let n = 0;
        for (let i = 0; i < v.length; i++) {
          const inner = writeChildren(v[i], table, `${fp}[${i}]`, policy);
          if (inner === '') continue;
          out += f.open + inner + '\n' + f.close;
          n++;
        }
        if (n === 0 && f.required) throw missing(f, path);
      } else {
        const inner = writeChildren(v, table, join(path, f.key), policy);
        if (inner === '') {
          if (f.required) throw missing(f, path);
          continue;
        }
        out += f.open + inner + '\n' + f.close;
      }
    } else if (f.kind === 'list') {
      if (!Array.isArray(v)) throw invalid(join(path, f.key), 'must be an array', { actual: v });
      if (v.length > f.maxOccurs) {
        throw invalid(join(path, f.key), `at most ${f.maxOccurs} <${f.def.xml}> allowed, got ${v.length}`, { expected: f.maxOccurs, actual: v.length });
      }
      let n = 0;
      for (let i = 0; i < v.length; i++) {
        const text = scalar(f, f.item, v[i], path, i, policy);
        if (text === undefined) continue;
        out += f.open + text + f.close;
        n++;
      }
      if (n === 0 && f.required) throw missing(f, path);
    } else {
      const text = scalar(f, f.kind, v, path, -1, policy);
      if (text === undefined) {
        if (f.required) throw missing(f, path);
        continue;
      }
      out += f.open + text + f.close;
    }
  }
  return out;
}

/**
 * The `<Documento ID="…">…</Documento>` element (`<Liquidacion>` for 43, `<Exportaciones>` for
 * 110–112; boletas use `<Documento>` with the EnvioBOLETA_v11 structure), without namespace
 * declaration, in its own C14N form. Throws TimbreError: ERR_FIELD_TOO_LONG, ERR_CHAR_NOT_LATIN1,
 * ERR_RUT_INVALID or ERR_INPUT_INVALID (missing mandatory element, value outside the XSD type,
 * property the document type cannot carry), each naming the model path in `field`.
 */
export function writeDocumento(dte: Dte, opts: WriteDocumentoOptions): string {
  const tipo: unknown = dte?.encabezado?.idDoc?.tipoDte;
  const branch = branchOf(tipo as number);
  if (!branch) throw invalid('encabezado.idDoc.tipoDte', `unsupported document type ${String(tipo)}`, { actual: tipo });
  const { id, tedXml, tmstFirma } = opts;
  if (typeof id !== 'string' || !NCNAME_RE.test(id)) throw invalid('id', `${JSON.stringify(id)} is not an xs:ID (NCName)`, { actual: id });
  if (typeof tedXml !== 'string' || !/^<(?:[A-Za-z_][\w.-]*:)?TED[\s>]/.test(tedXml)) throw invalid('tedXml', 'must be a <TED> element');
  const m = typeof tmstFirma === 'string' ? DATETIME_RE.exec(tmstFirma) : null;
  if (!m || !validDate(m) || tmstFirma < FECHA_HORA[0] || tmstFirma > FECHA_HORA[1]) {
    throw invalid('tmstFirma', `${JSON.stringify(tmstFirma)} is not a YYYY-MM-DDTHH:MM:SS timestamp in ${FECHA_HORA.join('..')}`, { actual: tmstFirma });
  }
  const body = writeChildren(dte, compile(branch.documento), '', opts.nonLatin1 ?? 'replace');
  const root = branch.root;
  return `<${root} ID="${escapeAttr(id)}">${body}\n${tedXml}\n<TmstFirma>${tmstFirma}</TmstFirma>\n</${root}>`;
}

/**
 * The whole standalone DTE: XML declaration, `<DTE xmlns="http://www.sii.cl/SiiDte" version="1.0">`,
 * the Documento and the given Signature. The caller encodes it as ISO-8859-1.
 */
export function writeDte(dte: Dte, opts: WriteDteOptions): string {
  if (typeof opts.signatureXml !== 'string' || !opts.signatureXml.startsWith('<')) throw invalid('signatureXml', 'must be a <Signature> element');
  return `${XML_DECLARATION}\n<DTE xmlns="${NS_SII_DTE}" version="1.0">\n${writeDocumento(dte, opts)}\n${opts.signatureXml}\n</DTE>`;
}
