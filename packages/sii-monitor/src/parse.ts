/**
 * Parsers for the SII's publication pages. Each takes the page (text or raw bytes: the charset is
 * detected, see decode.ts) and returns its publications. They look for the publications' own
 * shape, not for a fixed table: a link whose text is "Circular N° 61 del 20 de Diciembre del 2024"
 * (or "Resolución Ex. SII N° 130 del …", or a `/noticias/YYYY/DDMMYYnotiNN….htm` link, or an entry
 * of the news index's `arrayIndice` script array), and the text that belongs to it for the
 * materia: its row / list item / paragraph, the siblings after its `<h5>` heading (2013+ indexes)
 * or the lines up to the next entry (pre-2013 flat indexes). So a table turned into paragraphs
 * still parses; a page where no such link is left fails loudly with ERR_SII_PAGE_LAYOUT instead of
 * answering "nothing new".
 */
// cheerio/slim (htmlparser2), not 'cheerio': the full entry imports undici 7, whose module init
// installs its own Agent as Node's global fetch dispatcher — every fetch of the process (the SII
// client's included) would then run on a different undici than Node's, and stalled in tests.
import { load, type CheerioAPI } from 'cheerio/slim';
import { findDate, fold } from './dates.js';
import { decodeHtml } from './decode.js';
import { SiiMonitorError } from './errors.js';

export type TipoPublicacion = 'circular' | 'resolucion' | 'noticia';

export interface SiiPublication {
  tipo: TipoPublicacion;
  /** "61" for Circular N° 61; for news the page's file stem ("200225noti01pcr"), the SII's only id. */
  numero: string;
  /** The year the number belongs to (numbers restart every year): the index's year, the news date's year. */
  anio: number;
  /** Publication date, ISO `YYYY-MM-DD`. */
  fecha: string;
  /** The link text as the SII writes it ("Circular N° 61 del 20 de Diciembre del 2024"; the news headline). */
  titulo: string;
  /** Absolute URL of the document (PDF or page). */
  url: string;
  /** What it is about: the index's materia line, the news lead; absent when the page has none. */
  materia?: string;
}

export interface IndexOptions {
  year: number;
  /**
   * The site root (`https://www.sii.cl`; tests: a local server) or the page's own URL
   * (`https://www.sii.cl/normativa_legislacion/circulares/2024/indcir2024.htm`): relative links
   * resolve against the page, as in a browser.
   */
  baseUrl: string;
  /** Where the page was read, when it is not the canonical index under `baseUrl` (wins over it). */
  pageUrl?: string;
  /** Content-Type header when `html` is bytes (its charset wins over the page's meta). */
  contentType?: string | null;
}

export interface NewsOptions {
  /** The site root or the news page's own URL (see IndexOptions.baseUrl). */
  baseUrl: string;
  /** Where the page was read (relative links resolve against it); default `${baseUrl}/noticias/`, or `baseUrl` when it is a page. */
  pageUrl?: string;
  contentType?: string | null;
}

const trimBase = (baseUrl: string): string => baseUrl.replace(/\/+$/, '');

/** Circulares up to this year live under the old `/documentos/circulares/` tree (2011's index is there). */
export const LAST_LEGACY_CIRCULARES_YEAR = 2012;

/** The index page URLs, as the SII names them (last century's circulares indexes have a two-digit name: `1977/indcir77.htm`). */
export const circularesIndexUrl = (baseUrl: string, year: number): string =>
  year <= LAST_LEGACY_CIRCULARES_YEAR
    ? `${trimBase(baseUrl)}/documentos/circulares/${year}/indcir${year < 2000 ? String(year).slice(2) : year}.htm`
    : `${trimBase(baseUrl)}/normativa_legislacion/circulares/${year}/indcir${year}.htm`;
export const resolucionesIndexUrl = (baseUrl: string, year: number): string => `${trimBase(baseUrl)}/normativa_legislacion/resoluciones/${year}/res_ind${year}.htm`;
/** The news landing page. */
export const noticiasUrl = (baseUrl: string): string => `${trimBase(baseUrl)}/noticias/`;
/** A year's news index: the list is a script array (`arrayIndice`) in this page. */
export const noticiasYearUrl = (baseUrl: string, year: number): string => `${trimBase(baseUrl)}/noticias/${checkYear(year)}/index.html`;

/** A cheerio selection (the element type comes from domhandler, not a dependency of ours). */
type Selection = ReturnType<CheerioAPI>;

/** The few domhandler node fields the segment walk reads (structural, so domhandler need not be a dependency). */
interface DomNode {
  type: string;
  name?: string;
  data?: string;
  attribs?: Record<string, string>;
  children?: DomNode[];
  parent?: DomNode | null;
  prev?: DomNode | null;
  next?: DomNode | null;
}
const domNode = (sel: Selection): DomNode | undefined => sel.get(0) as unknown as DomNode | undefined;

const clean = (s: string): string => s.replace(/\u00a0/g, ' ').replace(/\s+/g, ' ').trim();

function checkYear(year: unknown): number {
  if (typeof year !== 'number' || !Number.isInteger(year) || year < 1900 || year > 2200) {
    throw new SiiMonitorError('ERR_INPUT_INVALID', `year must be an integer year, got ${String(year)}`, { field: 'year' });
  }
  return year;
}

function checkUrl(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^https?:\/\/[^/]/.test(value)) {
    throw new SiiMonitorError('ERR_INPUT_INVALID', `${field} must be an http(s) URL`, { field });
  }
  try {
    return new URL(value).href;
  } catch {
    throw new SiiMonitorError('ERR_INPUT_INVALID', `${field} is not a valid URL: ${value}`, { field });
  }
}

/**
 * The URL relative links resolve against, as a browser does. `baseUrl` is either the site root
 * (`https://www.sii.cl`, or a mirror's prefix without a trailing slash such as `http://host/sii`),
 * and then the page is the canonical one under it, or the page's own URL (a path ending in a file
 * such as `indcir2024.htm`, or in `/`), and then it is used as is.
 */
function resolvePageUrl(baseUrl: string, canonical: (root: string) => string): string {
  const u = new URL(baseUrl);
  const isPage = u.pathname !== '/' && (u.pathname.endsWith('/') || /\.[a-z0-9]{2,5}$/i.test(u.pathname));
  return isPage ? u.href : canonical(baseUrl);
}

function loadPage(html: string | Uint8Array, contentType?: string | null): { $: CheerioAPI; text: string } {
  if (typeof html !== 'string' && !(html instanceof Uint8Array)) {
    throw new SiiMonitorError('ERR_INPUT_INVALID', 'html must be a string or bytes', { field: 'html' });
  }
  const text = decodeHtml(html, contentType);
  const $ = load(text);
  // Scripts hold the footer's document.write links; they are not publications.
  $('script, style, noscript').remove();
  return { $, text };
}

/** Links that only repeat the entry in another format ("Word", "PDF", "Ver documento"). */
const TWIN_LINK = /^(word|pdf|docx?|rtf|html?|ver( documento| mas| más)?|descargar|texto)?$/i;
/** Markers next to an entry that are not its materia. */
const MARKERS = /\(\s*(modificad[ao]s?|dejad[ao] sin efecto|derogad[ao]|sustituid[ao]|complementad[ao]|actualizad[ao])\s*\)/gi;
/** Elements that start a new line of text. */
const BLOCKISH = new Set(['p', 'div', 'li', 'tr', 'td', 'th', 'dd', 'dt', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'article', 'section', 'table', 'tbody', 'ul', 'ol', 'dl', 'blockquote', 'center', 'hr']);
/** Elements that end the walk over an entry's following siblings: the next section starts there. */
const STOP_TAGS = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'table', 'form']);

/** Text of a node with line breaks kept, entry headings and twin links left out (cross-reference links keep their text). */
function textOf(node: DomNode, skip: (n: DomNode) => boolean): string {
  if (node.type === 'text') return node.data ?? '';
  if (node.type !== 'tag') return '';
  if (node.name === 'br') return '\n';
  if (skip(node)) return '';
  const inner = (node.children ?? []).map((c) => textOf(c, skip)).join('');
  return BLOCKISH.has(node.name ?? '') ? `\n${inner}\n` : inner;
}

/**
 * The materia as a reader sees it: without "Fuente:" lines, "(modificada)" markers, a leading "- " /
 * ": " / "Materia:" label and the spacing of the markup.
 */
function cleanMateria(raw: string): string {
  const lines = raw
    .replace(/\u00a0/g, ' ')
    .replace(/Fuente\s*:[^\n]*/gi, '\n')
    .replace(MARKERS, ' ');
  return clean(lines)
    .replace(/^(?:[-–—:;,.·|]\s*)+/, '')
    .replace(/^materia\s*:\s*/i, '')
    .replace(/^(?:[-–—:;,.·|]\s*)+/, '')
    .replace(/\s*[-–—:;|]+$/, '')
    .trim();
}

const HEADINGS: Record<'circular' | 'resolucion', RegExp> = {
  // "Circular N° 61", "Circular Nº61", "CIRCULAR N°162", "Circular No. 5"
  circular: /^circular(?:es)?\s+(?:n|no|nro|numero)?\.?\s*(\d{1,3}(?:\.\d{3})*|\d{1,5})\b/,
  // "Resolución Ex. SII N° 130", "Resolución Exenta SII N°106", "Resolución Exenta N°12", "RESOLUCION EXENTA N°27", "Res. Ex. N° 45"
  resolucion: /^res(?:olucion|\.)?(?:\s+(?:ex|exenta)\.?)?(?:\s+sii)?\s+(?:n|no|nro|numero)?\.?\s*(\d{1,3}(?:\.\d{3})*|\d{1,5})\b/,
};

interface Candidate {
  a: DomNode;
  numero: string;
  titulo: string;
  href: string;
  /** Starts a line (heading position) rather than sitting inside another entry's text as a cross-reference. */
  lineStart: boolean;
}

/** True when nothing but whitespace precedes `node` on its line (walking out of inline wrappers). */
function atLineStart(node: DomNode): boolean {
  let cur: DomNode | null | undefined = node;
  while (cur) {
    let prev: DomNode | null | undefined = cur.prev;
    while (prev && prev.type === 'text' && !(prev.data ?? '').trim()) prev = prev.prev;
    while (prev && prev.type === 'comment') prev = prev.prev;
    if (prev) return prev.type === 'tag' && (prev.name === 'br' || BLOCKISH.has(prev.name ?? ''));
    const parent: DomNode | null | undefined = cur.parent;
    if (!parent || parent.type !== 'tag' || BLOCKISH.has(parent.name ?? '')) return true;
    cur = parent;
  }
  return true;
}

function contains(ancestor: DomNode, node: DomNode): boolean {
  for (let cur: DomNode | null | undefined = node; cur; cur = cur.parent) if (cur === ancestor) return true;
  return false;
}

/**
 * The text that belongs to one entry. Three shapes are real: a row or paragraph per entry (the
 * entry's smallest block), a heading per entry with the materia in the siblings after it (2013+:
 * `<h5><a>Circular N° 26 del …</a></h5><p>materia</p><span>Fuente: …</span>`), and one flat block
 * holding every entry separated by `<br>` (the pre-2013 `/documentos/` indexes): there the entry
 * runs from its link to the next entry's link.
 */
function entrySegment($: CheerioAPI, c: Candidate, headings: readonly DomNode[], skip: (n: DomNode) => boolean): string {
  const blockSel = $(c.a as never).closest('tr, li, p, dd, dt, article, h1, h2, h3, h4, h5, h6, div');
  const block = domNode(blockSel);
  const othersIn = (n: DomNode): boolean => headings.some((h) => h !== c.a && contains(n, h));
  const walk = (from: DomNode, limit = 1500): string => {
    let out = '';
    for (let sib = from.next; sib && out.length < limit; sib = sib.next) {
      if (sib.type === 'tag' && (STOP_TAGS.has(sib.name ?? '') || headings.includes(sib) || othersIn(sib))) break;
      out += textOf(sib, skip);
    }
    return out;
  };
  if (!block || othersIn(block)) {
    // Flat: climb out of inline wrappers (<b><a>…</a></b>) that hold only this entry, then read on.
    let start = c.a;
    while (start.parent && start.parent !== block && start.parent.type === 'tag' && !othersIn(start.parent)) start = start.parent;
    return walk(start);
  }
  const own = textOf(block, skip);
  if (/^h[1-6]$/.test(block.name ?? '') || !cleanMateria(own)) return `${own}\n${walk(block)}`;
  return own;
}

function parseIndex(tipo: 'circular' | 'resolucion', html: string | Uint8Array, options: IndexOptions): SiiPublication[] {
  const year = checkYear(options?.year);
  checkUrl(options.baseUrl, 'baseUrl');
  const canonical = (root: string): string => (tipo === 'circular' ? circularesIndexUrl(root, year) : resolucionesIndexUrl(root, year));
  const pageUrl = options.pageUrl !== undefined ? checkUrl(options.pageUrl, 'pageUrl') : resolvePageUrl(options.baseUrl, canonical);
  const { $ } = loadPage(html, options.contentType);
  const candidates: Candidate[] = [];
  $('a[href]').each((_, el) => {
    const titulo = clean($(el).text());
    const m = HEADINGS[tipo].exec(fold(titulo));
    if (!m) return;
    const a = el as unknown as DomNode;
    candidates.push({ a, numero: String(Number((m[1] ?? '').replace(/\./g, ''))), titulo, href: $(el).attr('href') ?? '', lineStart: atLineStart(a) });
  });
  const headings = candidates.filter((c) => c.lineStart).map((c) => c.a);
  const skip = (n: DomNode): boolean => n.name === 'a' && (headings.includes(n) || TWIN_LINK.test(clean($(n as never).text())));
  const entries: Array<{ item: SiiPublication; lineStart: boolean; pos: number }> = [];
  for (const [pos, c] of candidates.entries()) {
    const segment = entrySegment($, c, headings, skip);
    const fecha = findDate(c.titulo) ?? findDate(segment);
    if (!fecha) continue; // a cross-reference without a date is not an index entry
    const materia = cleanMateria(segment);
    const item: SiiPublication = { tipo, numero: c.numero, anio: year, fecha, titulo: c.titulo, url: new URL(c.href, pageUrl).href, ...(materia ? { materia } : {}) };
    entries.push({ item, lineStart: c.lineStart, pos });
  }
  // A dated link to another year's publication inside a materia ("deroga la Resolución Ex. SII N° 45 del
  // 01 de Septiembre del 2003") is a cross-reference, unless the whole page is of another year.
  const ofYear = entries.filter((e) => e.item.fecha.startsWith(`${year}-`));
  const pool = ofYear.length > 0 ? ofYear : entries;
  const out = new Map<string, { item: SiiPublication; pos: number }>();
  // One entry per number: the heading-position link wins over a same-year cross-reference.
  for (const e of [...pool.filter((x) => x.lineStart), ...pool.filter((x) => !x.lineStart)]) {
    if (!out.has(e.item.numero)) out.set(e.item.numero, e);
  }
  if (out.size === 0) {
    throw new SiiMonitorError('ERR_SII_PAGE_LAYOUT', `no ${tipo === 'circular' ? 'circular' : 'resolución'} entries recognised in ${pageUrl}: the page layout may have changed`, { url: pageUrl });
  }
  // Page order (newest first on the SII's pages), whichever link won.
  return [...out.values()].sort((x, y) => x.pos - y.pos).map((e) => e.item);
}

/** The circulares of one year from `indcirYYYY.htm`. */
export function parseCircularesIndex(html: string | Uint8Array, options: IndexOptions): SiiPublication[] {
  return parseIndex('circular', html, options);
}

/** The resoluciones of one year from `res_indYYYY.htm`. */
export function parseResolucionesIndex(html: string | Uint8Array, options: IndexOptions): SiiPublication[] {
  return parseIndex('resolucion', html, options);
}

const NEWS_HREF = /\/noticias\/(\d{4})\/([A-Za-z0-9_-]+)\.html?$/i;
/** The file stem starts with the day: DDMMYY. */
const STEM_DATE = /^(\d{2})(\d{2})(\d{2})noti/i;

const unescapeJs = (s: string): string =>
  s.replace(/\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\(.)/g, (_, u: string | undefined, x: string | undefined, c: string) =>
    u || x ? String.fromCharCode(parseInt(u ?? x ?? '0', 16)) : c === 'n' || c === 't' ? ' ' : c,
  );

/**
 * The news list of `/noticias/YYYY/index.html`: the page draws it from a script array,
 * `arrayIndice = [['310725noti01pcr', '31-07-2025', 'Título &aacute;…', 'imagen.jpg'], …]`
 * (id, date, headline as HTML, image; `new Array(…)` works too). Read with a small tokenizer so a
 * bracket or comma inside a headline does not split it. Returns [] when the page has no such array.
 */
function newsFromScriptArray(text: string): Array<{ id: string; fecha?: string; titulo: string }> {
  const start = /arrayIndice\s*=\s*(?:new\s+Array\s*\(|\[)/.exec(text);
  if (!start) return [];
  const out: Array<{ id: string; fecha?: string; titulo: string }> = [];
  let depth = 1;
  let fields: string[] = [];
  for (let i = start.index + start[0].length; i < text.length && depth > 0; i++) {
    const ch = text[i];
    if (ch === "'" || ch === '"') {
      let raw = '';
      let j = i + 1;
      while (j < text.length && text[j] !== ch && text[j] !== '\n') {
        const step = text[j] === '\\' ? 2 : 1;
        raw += text.slice(j, j + step);
        j += step;
      }
      fields.push(unescapeJs(raw));
      i = j;
    } else if (ch === '[' || ch === '(') {
      depth++;
      fields = [];
    } else if (ch === ']' || ch === ')') {
      depth--;
      if (depth !== 1) continue;
      const [id, fecha, tituloHtml] = fields;
      fields = [];
      if (!id || !/noti/i.test(id) || tituloHtml === undefined) continue;
      const titulo = clean(load(`<p>${tituloHtml}</p>`)('p').text());
      if (titulo) out.push({ id: id.trim(), ...(fecha ? { fecha: fecha.trim() } : {}), titulo });
    }
  }
  return out;
}

/**
 * The news items of an SII news page: links to `/noticias/YYYY/DDMMYYnotiNNxx.htm` in the markup,
 * and the `arrayIndice` script array the year index (`/noticias/YYYY/index.html`) draws its list from.
 */
export function parseNoticias(html: string | Uint8Array, options: NewsOptions): SiiPublication[] {
  checkUrl(options?.baseUrl, 'baseUrl');
  const pageUrl = options.pageUrl !== undefined ? checkUrl(options.pageUrl, 'pageUrl') : resolvePageUrl(options.baseUrl, noticiasUrl);
  const { $, text } = loadPage(html, options.contentType);
  const out = new Map<string, SiiPublication>();
  const stemDate = (numero: string): string | undefined => {
    const s = STEM_DATE.exec(numero);
    return s ? findDate(`${s[1]}/${s[2]}/20${s[3]}`) : undefined;
  };
  $('a[href]').each((_, a) => {
    let url: URL;
    try {
      url = new URL($(a).attr('href') ?? '', pageUrl);
    } catch {
      return;
    }
    const m = NEWS_HREF.exec(url.pathname);
    if (!m || /^index/i.test(m[2] ?? '')) return;
    const numero = m[2] ?? '';
    const titulo = clean($(a).text());
    if (!titulo || out.has(numero)) return;
    const block = $(a).closest('article, li, tr, div');
    const blockAll = clean(block.text());
    const fecha = findDate(blockAll) ?? stemDate(numero);
    if (!fecha) return;
    // The lead: the block without its links and the date line.
    const node = domNode(block);
    let materia = node ? cleanMateria(textOf(node, (n) => n.name === 'a')) : '';
    materia = cleanMateria(materia.replace(/^\d{1,2}(?:\s+de\s+\S+\s+(?:de|del)\s+\d{4}|[/.-]\d{1,2}[/.-]\d{4})/i, ''));
    out.set(numero, { tipo: 'noticia', numero, anio: Number(fecha.slice(0, 4)), fecha, titulo, url: url.href, ...(materia ? { materia } : {}) });
  });
  for (const n of newsFromScriptArray(text)) {
    const file = /\.html?$/i.test(n.id) ? n.id : `${n.id}.htm`;
    const url = new URL(file, pageUrl);
    const numero = (url.pathname.split('/').pop() ?? '').replace(/\.html?$/i, '');
    if (!numero || out.has(numero)) continue;
    const fecha = (n.fecha ? findDate(n.fecha) : undefined) ?? stemDate(numero);
    if (!fecha) continue;
    out.set(numero, { tipo: 'noticia', numero, anio: Number(fecha.slice(0, 4)), fecha, titulo: n.titulo, url: url.href });
  }
  if (out.size === 0) {
    throw new SiiMonitorError('ERR_SII_PAGE_LAYOUT', `no news items recognised in ${pageUrl}: the page layout may have changed`, { url: pageUrl });
  }
  return [...out.values()];
}
