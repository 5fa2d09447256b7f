/**
 * Parse untrusted XML bytes into a small tree. Received XML is hostile: no DTD (so no entity
 * expansion, no external entities), bounded size and depth, and the encoding taken from the
 * declaration (ISO-8859-1, windows-1252, UTF-8, UTF-16) or guessed (UTF-8, else Latin-1: CAF files
 * carry Latin-1 bytes with no declaration).
 */
import { SaxesParser } from 'saxes';
import { TimbreError } from '../errors.js';

export interface XmlNsDecl {
  /** '' for the default namespace. */
  prefix: string;
  uri: string;
}

export interface XmlAttribute {
  /** Qualified name as written (`xsi:schemaLocation`). */
  name: string;
  prefix: string;
  local: string;
  /** Namespace URI ('' for unprefixed attributes). */
  uri: string;
  value: string;
}

export interface XmlElement {
  type: 'element';
  /** Qualified name as written (`ds:Signature`, `DTE`). */
  name: string;
  prefix: string;
  local: string;
  /** Resolved namespace URI ('' when none). */
  uri: string;
  /** Attributes in document order, namespace declarations excluded. */
  attributes: XmlAttribute[];
  /** Namespace declarations made on this element. */
  nsDecls: XmlNsDecl[];
  children: XmlNode[];
  parent: XmlElement | null;
  /** Offsets in `XmlDocument.text` of the start tag's `<` and just after the end tag's `>`. */
  start: number;
  end: number;
}

export interface XmlText {
  type: 'text';
  value: string;
}
export interface XmlComment {
  type: 'comment';
  value: string;
}
export interface XmlPi {
  type: 'pi';
  target: string;
  data: string;
}
export type XmlNode = XmlElement | XmlText | XmlComment | XmlPi;

export interface XmlDocument {
  root: XmlElement;
  /** The decoded document text (offsets of elements point into it). */
  text: string;
  /** Encoding used to decode the bytes. */
  encoding: 'ISO-8859-1' | 'windows-1252' | 'UTF-8' | 'UTF-16LE' | 'UTF-16BE';
  /** Encoding named in the XML declaration, if any. */
  declaredEncoding?: string;
  /** True when the encoding had to be guessed (no declaration, no BOM). */
  encodingGuessed: boolean;
}

export interface ParseOptions {
  /** Maximum input size in bytes (default 25 MiB). */
  maxBytes?: number;
  /** Maximum element nesting depth (default 64; SII documents use about 10). */
  maxDepth?: number;
  /** Maximum number of elements (default 2,000,000). */
  maxElements?: number;
}

export const DEFAULT_MAX_BYTES = 25 * 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 64;

/** Decode bytes per BOM / declaration. */
export function decodeXmlBytes(bytes: Uint8Array): Pick<XmlDocument, 'text' | 'encoding' | 'declaredEncoding' | 'encodingGuessed'> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) {
    return { text: decodeUtf8(buf.subarray(3)), encoding: 'UTF-8', encodingGuessed: false, ...declared(buf.subarray(3)) };
  }
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) {
    return { text: new TextDecoder('utf-16le').decode(buf.subarray(2)), encoding: 'UTF-16LE', encodingGuessed: false };
  }
  if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) {
    return { text: new TextDecoder('utf-16be').decode(buf.subarray(2)), encoding: 'UTF-16BE', encodingGuessed: false };
  }
  const decl = declared(buf);
  const enc = decl.declaredEncoding?.toLowerCase().replace(/[_\s]/g, '-');
  if (enc === undefined) {
    // No declaration: XML says UTF-8, but SII CAF files are Latin-1 without a declaration.
    try {
      return { text: decodeUtf8(buf), encoding: 'UTF-8', encodingGuessed: true };
    } catch {
      return { text: buf.toString('latin1'), encoding: 'ISO-8859-1', encodingGuessed: true };
    }
  }
  if (['iso-8859-1', 'iso8859-1', 'latin1', 'latin-1', 'l1', 'iso-latin-1', 'iso-ir-100', 'cp819', 'ibm819'].includes(enc)) {
    return { text: buf.toString('latin1'), encoding: 'ISO-8859-1', encodingGuessed: false, ...decl };
  }
  if (['windows-1252', 'cp1252', 'x-cp1252', 'win-1252'].includes(enc)) {
    return { text: decodeWindows1252(buf), encoding: 'windows-1252', encodingGuessed: false, ...decl };
  }
  if (enc === 'utf-8' || enc === 'utf8') {
    return { text: decodeUtf8(buf), encoding: 'UTF-8', encodingGuessed: false, ...decl };
  }
  if (enc === 'us-ascii' || enc === 'ascii') {
    return { text: buf.toString('latin1'), encoding: 'ISO-8859-1', encodingGuessed: false, ...decl };
  }
  throw new TimbreError('ERR_XML_ENCODING', `unsupported XML encoding "${decl.declaredEncoding}"`, { actual: decl.declaredEncoding });
}

/** windows-1252 bytes 0x80..0x9F (WHATWG table); the other bytes are Latin-1. */
const CP1252_HIGH =
  '\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F' +
  '\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178';

/**
 * Decode windows-1252 by hand: Node 20's `TextDecoder('windows-1252')` decodes it as ISO-8859-1
 * (0x80 → U+0080 instead of €), which would corrupt text and signatures.
 */
function decodeWindows1252(buf: Buffer): string {
  const s = buf.toString('latin1');
  return /[\x80-\x9f]/.test(s) ? s.replace(/[\x80-\x9f]/g, (c) => CP1252_HIGH.charAt(c.charCodeAt(0) - 0x80)) : s;
}

function decodeUtf8(buf: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch (cause) {
    throw new TimbreError('ERR_XML_ENCODING', 'bytes are not valid UTF-8', { cause });
  }
}

function declared(buf: Buffer): { declaredEncoding?: string } {
  const head = buf.subarray(0, 200).toString('latin1');
  if (!head.startsWith('<?xml')) return {};
  const end = head.indexOf('?>');
  const m = /encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']/.exec(end >= 0 ? head.slice(0, end) : head);
  return m?.[1] ? { declaredEncoding: m[1] } : {};
}

/** Parse untrusted XML bytes (or an already decoded string) into a tree. */
export function parseXml(input: Uint8Array | string, options: ParseOptions = {}): XmlDocument {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  const maxElements = options.maxElements ?? 2_000_000;
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size > maxBytes) {
    throw new TimbreError('ERR_XML_TOO_LARGE', `XML of ${size} bytes exceeds the limit of ${maxBytes}`, { actual: size, expected: maxBytes });
  }
  const decoded: Pick<XmlDocument, 'text' | 'encoding' | 'declaredEncoding' | 'encodingGuessed'> =
    typeof input === 'string' ? { text: input, encoding: 'UTF-8', encodingGuessed: false, ...declared(Buffer.from(input.slice(0, 200), 'latin1')) } : decodeXmlBytes(input);
  const text = decoded.text;

  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let failure: TimbreError | null = null;
  let count = 0;
  let tagStart = 0;

  const fail = (e: TimbreError) => {
    if (!failure) failure = e;
    throw e;
  };

  parser.on('doctype', () => {
    fail(new TimbreError('ERR_XML_FORBIDDEN_FEATURE', 'DOCTYPE declarations are not accepted (entity expansion and external entities are refused)'));
  });
  parser.on('opentagstart', () => {
    tagStart = text.lastIndexOf('<', parser.position - 1);
  });
  parser.on('opentag', (tag) => {
    if (++count > maxElements) fail(new TimbreError('ERR_XML_TOO_LARGE', `more than ${maxElements} elements`));
    if (stack.length >= maxDepth) fail(new TimbreError('ERR_XML_TOO_DEEP', `element nesting deeper than ${maxDepth}`, { expected: maxDepth }));
    const attributes: XmlAttribute[] = [];
    const nsDecls: XmlNsDecl[] = [];
    for (const a of Object.values(tag.attributes)) {
      const at = a as { name: string; prefix: string; local: string; uri: string; value: string };
      if (at.name === 'xmlns') nsDecls.push({ prefix: '', uri: at.value });
      else if (at.prefix === 'xmlns') nsDecls.push({ prefix: at.local, uri: at.value });
      else attributes.push({ name: at.name, prefix: at.prefix, local: at.local, uri: at.uri, value: at.value });
    }
    const parent = stack[stack.length - 1] ?? null;
    const el: XmlElement = {
      type: 'element',
      name: tag.name,
      prefix: tag.prefix ?? '',
      local: tag.local ?? tag.name,
      uri: tag.uri ?? '',
      attributes,
      nsDecls,
      children: [],
      parent,
      start: tagStart,
      end: parser.position,
    };
    if (parent) parent.children.push(el);
    else root = el;
    if (tag.isSelfClosing) el.end = parser.position;
    stack.push(el);
  });
  parser.on('closetag', () => {
    const el = stack.pop();
    if (el) el.end = parser.position;
  });
  const pushText = (value: string) => {
    const parent = stack[stack.length - 1];
    if (!parent) return; // whitespace outside the root element
    const last = parent.children[parent.children.length - 1];
    if (last && last.type === 'text') last.value += value;
    else parent.children.push({ type: 'text', value });
  };
  parser.on('text', pushText);
  parser.on('cdata', pushText);
  parser.on('comment', (value) => {
    stack[stack.length - 1]?.children.push({ type: 'comment', value });
  });
  parser.on('processinginstruction', (pi) => {
    stack[stack.length - 1]?.children.push({ type: 'pi', target: pi.target, data: pi.body });
  });

  try {
    parser.write(text).close();
  } catch (e) {
    if (failure) throw failure;
    if (e instanceof TimbreError) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    // A DOCTYPE saxes could not finish (unterminated internal subset) or met inside the root element
    // is still a DOCTYPE: classify it as the forbidden feature, not as mere malformation.
    const doctypeAt = text.lastIndexOf('<!DOCTYPE', parser.position);
    if (doctypeAt >= 0 && (count === 0 || parser.position - doctypeAt <= 10)) {
      throw new TimbreError('ERR_XML_FORBIDDEN_FEATURE', 'DOCTYPE declarations are not accepted (entity expansion and external entities are refused)', { cause: e });
    }
    throw new TimbreError('ERR_XML_MALFORMED', `malformed XML: ${msg}`, { cause: e });
  }
  if (!root) throw new TimbreError('ERR_XML_MALFORMED', 'no root element');
  return { root, ...decoded };
}

// ---- small navigation helpers (namespace-agnostic by local name: real issuers omit the namespace) ----

export const childElements = (el: XmlElement): XmlElement[] => el.children.filter((c): c is XmlElement => c.type === 'element');

export const child = (el: XmlElement, local: string): XmlElement | undefined =>
  el.children.find((c): c is XmlElement => c.type === 'element' && c.local === local);

export const childrenNamed = (el: XmlElement, local: string): XmlElement[] =>
  el.children.filter((c): c is XmlElement => c.type === 'element' && c.local === local);

/** Concatenated text content of an element and its descendants. */
export function textOf(el: XmlElement): string {
  let s = '';
  for (const c of el.children) {
    if (c.type === 'text') s += c.value;
    else if (c.type === 'element') s += textOf(c);
  }
  return s;
}

/** Text of a direct child, trimmed; undefined when absent. */
export const childText = (el: XmlElement, local: string): string | undefined => {
  const c = child(el, local);
  return c ? textOf(c).trim() : undefined;
};

export const attr = (el: XmlElement, name: string): string | undefined => el.attributes.find((a) => a.name === name || a.local === name)?.value;

/** Depth-first search for descendants with the local name. */
export function findAll(el: XmlElement, local: string, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    if (c.local === local) out.push(c);
    findAll(c, local, out);
  }
  return out;
}

/** Namespace declarations in scope at `el` (nearest wins), as prefix → uri. */
export function inScopeNamespaces(el: XmlElement): Map<string, string> {
  const chain: XmlElement[] = [];
  for (let e: XmlElement | null = el; e; e = e.parent) chain.unshift(e);
  const m = new Map<string, string>();
  for (const e of chain) for (const d of e.nsDecls) m.set(d.prefix, d.uri);
  return m;
}
