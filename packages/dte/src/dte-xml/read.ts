/**
 * Reads a received `<DTE>` into the typed model, driven by the same field tables as the writer
 * (fields.ts). Tolerant of what real issuers produce: no namespace or a prefixed one (matching is
 * by local name), pretty-printing, element order, unknown elements and names seen in the wild
 * (warnings), missing optional elements, negative amounts (43), decimals (exports), the boleta
 * structure. Strict only where the model cannot be built: a mandatory element the model requires
 * missing, or a malformed number in one → TimbreError ERR_XML_UNEXPECTED naming the model path.
 */
import { TimbreError } from '../errors.js';
import type { Dte } from '../model.js';
import { attr, child, childText, textOf, type XmlElement } from '../xml/parse.js';
import { branchOf, TRAILER, type FieldDef, type ScalarKind, type Table } from './fields.js';

export interface ReadDte {
  dte: Dte;
  /** `Documento/@ID`. */
  id?: string;
  /** The Documento, Liquidacion or Exportaciones element. */
  documento: XmlElement;
  ted?: XmlElement;
  /** The DTE's own `Signature` (sibling of the documento). */
  signature?: XmlElement;
  tmstFirma?: string;
  /** Things tolerated: unknown elements, XSD-mandatory elements the model can do without, odd values. */
  warnings: string[];
}

interface REntry {
  readonly def: FieldDef;
  readonly alias: boolean;
  /** Child table of an `element`. */
  readonly sub: RTable | undefined;
  readonly dotted: boolean;
  /** Absent or malformed is an error (XSD- and model-mandatory). */
  readonly strict: boolean;
  readonly max: number;
}

interface RTable {
  readonly byXml: ReadonlyMap<string, REntry>;
  /** Fields checked after reading: model defaults and mandatory presence. */
  readonly post: readonly FieldDef[];
  readonly absentDefaults: readonly (readonly [string, unknown])[];
}

const compiled = new WeakMap<Table, RTable>();

function compile(t: Table): RTable {
  const hit = compiled.get(t);
  if (hit) return hit;
  const byXml = new Map<string, REntry>();
  const c: RTable = {
    byXml,
    post: t.fields.filter((d) => !d.key.includes('.') && (d.readDefault !== undefined || d.required === true)),
    absentDefaults: Object.entries(t.absentDefaults ?? {}),
  };
  compiled.set(t, c); // before recursing (tables are shared, never cyclic, but cheap insurance)
  for (const def of t.fields) {
    const entry = (alias: boolean): REntry => ({
      def,
      alias,
      sub: def.table ? compile(def.table) : undefined,
      dotted: def.key.includes('.'),
      strict: def.required === true && def.modelOptional !== true,
      max: def.maxOccurs ?? 1,
    });
    byXml.set(def.xml, entry(false));
    for (const a of def.aliases ?? []) if (!byXml.has(a)) byXml.set(a, entry(true));
  }
  return c;
}

const DOCUMENT_ROOTS = new Set(['Documento', 'Liquidacion', 'Exportaciones']);
const TRAILER_NAMES = new Set<string>(TRAILER);
const NUMBER_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const RUT_RE = /^[0-9]+-[0-9K]$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

const join = (path: string, key: string): string => (path === '' ? key : `${path}.${key}`);

function unexpected(field: string, message: string, actual?: unknown): TimbreError {
  return new TimbreError('ERR_XML_UNEXPECTED', message, actual === undefined ? { field } : { field, actual });
}

/** Value of one scalar element; undefined when empty or unusable (with a warning when unusable). */
function readScalar(def: FieldDef, kind: ScalarKind, el: XmlElement, path: string, index: number, parentXml: string, w: string[], strict: boolean): unknown {
  const raw = textOf(el).trim();
  const xmlPath = `${parentXml}/${el.local}`;
  const field = (): string => (index < 0 ? join(path, def.key) : `${join(path, def.key)}[${index}]`);
  const numericEnum = kind === 'enum' && typeof def.values?.[0] === 'number';
  if (raw === '') {
    if (!strict) return undefined;
    if (kind === 'string' || kind === 'rut' || kind === 'date' || kind === 'datetime' || (kind === 'enum' && !numericEnum)) {
      w.push(`${xmlPath}: empty`);
      return '';
    }
    throw unexpected(field(), `${xmlPath} is empty; a number is required`);
  }
  switch (kind) {
    case 'string':
      return raw;
    case 'rut':
      if (!RUT_RE.test(raw)) w.push(`${xmlPath}: "${raw}" is not a RUT in SII format`);
      return raw;
    case 'date':
      if (!DATE_RE.test(raw)) w.push(`${xmlPath}: "${raw}" is not a YYYY-MM-DD date`);
      return raw;
    case 'datetime':
      if (!DATETIME_RE.test(raw)) w.push(`${xmlPath}: "${raw}" is not a YYYY-MM-DDTHH:MM:SS timestamp`);
      return raw;
    case 'enum':
      if (!numericEnum) {
        if (!def.values?.includes(raw)) w.push(`${xmlPath}: "${raw}" is not one of ${def.values?.join(', ')}`);
        return raw;
      }
    // falls through: numeric enumerations are numbers in the model
    case 'int':
    case 'decimal': {
      if (!NUMBER_RE.test(raw)) {
        if (strict) throw unexpected(field(), `${xmlPath}: "${raw}" is not a number`, raw);
        w.push(`${xmlPath}: "${raw}" is not a number; ignored`);
        return undefined;
      }
      const n = Number(raw);
      if (kind === 'int' && !Number.isInteger(n)) w.push(`${xmlPath}: "${raw}" is not an integer`);
      if (kind === 'enum' && !def.values?.includes(n)) w.push(`${xmlPath}: ${raw} is not one of ${def.values?.join(', ')}`);
      return n;
    }
  }
}

function readElement(el: XmlElement, t: RTable, path: string, xmlPath: string, w: string[], isRoot: boolean): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  let deferred: [FieldDef, unknown][] | undefined;
  for (const c of el.children) {
    if (c.type !== 'element') {
      if (c.type === 'text' && c.value.trim() !== '') w.push(`${xmlPath}: unexpected text "${c.value.trim().slice(0, 40)}" ignored`);
      continue;
    }
    const hit = t.byXml.get(c.local);
    if (!hit) {
      if (!(isRoot && TRAILER_NAMES.has(c.local))) w.push(`${xmlPath}/${c.local}: unknown element ignored`);
      continue;
    }
    const def = hit.def;
    if (hit.alias) w.push(`${xmlPath}/${c.local}: non-standard name, read as <${def.xml}>`);
    const max = hit.max;
    if (hit.sub) {
      const fp = join(path, def.key);
      const cx = `${xmlPath}/${c.local}`;
      if (max > 1) {
        let arr = obj[def.key] as unknown[] | undefined;
        if (!arr) obj[def.key] = arr = [];
        if (arr.length === max) w.push(`${cx}: more than ${max} occurrences`);
        arr.push(readElement(c, hit.sub, `${fp}[${arr.length}]`, cx, w, false));
      } else if (obj[def.key] !== undefined) {
        w.push(`${cx}: repeated; only the first one is read`);
      } else {
        obj[def.key] = readElement(c, hit.sub, fp, cx, w, false);
      }
      continue;
    }
    if (def.kind === 'list') {
      let arr = obj[def.key] as unknown[] | undefined;
      const v = readScalar(def, def.item ?? 'string', c, path, arr?.length ?? 0, xmlPath, w, false);
      if (v === undefined) continue;
      if (!arr) obj[def.key] = arr = [];
      if (arr.length === max) w.push(`${xmlPath}/${c.local}: more than ${max} occurrences`);
      arr.push(v);
      continue;
    }
    if (hit.dotted ? deferred?.some(([d]) => d === def) : obj[def.key] !== undefined) {
      w.push(`${xmlPath}/${c.local}: repeated; only the first one is read`);
      continue;
    }
    const v = readScalar(def, def.kind as ScalarKind, c, path, -1, xmlPath, w, hit.strict);
    if (v === undefined) continue;
    if (hit.dotted) (deferred ??= []).push([def, v]);
    else obj[def.key] = v;
  }
  // Keys the XSD places elsewhere than the model (boleta RUTProvSW → emisor.rutProvSw).
  for (const [def, v] of deferred ?? []) {
    const segs = def.key.split('.');
    let cur = obj;
    for (const s of segs.slice(0, -1)) {
      const next = cur[s];
      if (next === null || typeof next !== 'object') cur[s] = {};
      cur = cur[s] as Record<string, unknown>;
    }
    cur[segs[segs.length - 1] as string] = v;
  }
  for (const def of t.post) {
    if (obj[def.key] !== undefined) continue;
    if (def.readDefault !== undefined) {
      obj[def.key] = Array.isArray(def.readDefault) ? [] : def.readDefault;
    } else if (def.modelOptional) {
      w.push(`${xmlPath}/${def.xml}: mandatory element missing`);
    } else {
      throw unexpected(join(path, def.key), `${xmlPath}/${def.xml} is missing`);
    }
  }
  for (const [k, v] of t.absentDefaults) {
    if (obj[k] === undefined) obj[k] = Array.isArray(v) ? [] : v;
  }
  return obj;
}

/**
 * Parse a `<DTE>` element (or directly its `<Documento>`/`<Liquidacion>`/`<Exportaciones>`) into
 * the model. The branch is chosen by `TipoDTE` (39/41 → EnvioBOLETA structure).
 */
export function readDte(dteElement: XmlElement): ReadDte {
  const documento = DOCUMENT_ROOTS.has(dteElement.local)
    ? dteElement
    : dteElement.children.find((c): c is XmlElement => c.type === 'element' && DOCUMENT_ROOTS.has(c.local));
  if (!documento) throw unexpected('documento', `<${dteElement.local}> has no Documento, Liquidacion or Exportaciones element`);
  const encabezado = child(documento, 'Encabezado');
  if (!encabezado) throw unexpected('encabezado', `${documento.local}/Encabezado is missing`);
  const idDoc = child(encabezado, 'IdDoc');
  if (!idDoc) throw unexpected('encabezado.idDoc', `${documento.local}/Encabezado/IdDoc is missing`);
  const tipoText = childText(idDoc, 'TipoDTE');
  if (tipoText === undefined) throw unexpected('encabezado.idDoc.tipoDte', `${documento.local}/Encabezado/IdDoc/TipoDTE is missing`);
  const branch = /^\d+$/.test(tipoText) ? branchOf(Number(tipoText)) : undefined;
  if (!branch) throw unexpected('encabezado.idDoc.tipoDte', `unsupported TipoDTE "${tipoText}"`, tipoText);

  const warnings: string[] = [];
  if (branch.root !== documento.local) warnings.push(`${documento.local}: TipoDTE ${tipoText} belongs in <${branch.root}>; read as ${branch.name}`);
  const dte = readElement(documento, compile(branch.documento), '', documento.local, warnings, true) as unknown as Dte;

  const out: ReadDte = { dte, documento, warnings };
  const id = attr(documento, 'ID');
  if (id !== undefined) out.id = id;
  else warnings.push(`${documento.local}: no ID attribute`);
  const ted = child(documento, 'TED');
  if (ted) out.ted = ted;
  else warnings.push(`${documento.local}/TED is missing`);
  const tmst = childText(documento, 'TmstFirma');
  if (tmst !== undefined) out.tmstFirma = tmst;
  else warnings.push(`${documento.local}/TmstFirma is missing`);
  if (documento !== dteElement) {
    const signature = child(dteElement, 'Signature');
    if (signature) out.signature = signature;
  }
  return out;
}
