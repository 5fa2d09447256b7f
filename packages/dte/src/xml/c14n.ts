/**
 * Canonical XML 1.0, inclusive, without comments (http://www.w3.org/TR/2001/REC-xml-c14n-20010315)
 * of an element subtree of a parsed document: the "document subset" an XMLDSig `URI="#ID"` reference
 * selects. Hand-written over the `parse.ts` tree, iterative (no recursion, so a deep tree cannot
 * overflow the stack), one string built by concatenation.
 *
 * The `boundary`/`mode` pair reproduces the namespace context the *signer* saw (sii-spec §7.1): a DTE
 * signed standalone and then spliced into an EnvioDTE that also declares `xmlns:xsi` was canonicalized
 * with only the default namespace in scope (`default-only`); LibreDTE v1 signed DTEs with no namespace
 * at all (`none`); envelope signatures are canonicalized in their real context (`in-context`).
 */
import type { XmlAttribute, XmlDocument, XmlElement } from './parse.js';
import { escapeAttr, escapeText } from './text.js';

/**
 * - `in-context`: every declaration in scope (standard C14N of a document subset).
 * - `default-only`: above the boundary only the default namespace (DTE signed standalone, spliced
 *   into an envelope that also declares `xmlns:xsi`).
 * - `none`: nothing from above the boundary (DTE signed with no namespace, spliced).
 * - `with-sii-ns`: as `none`, plus the SII namespace as default when none is in scope: the signer saw
 *   `<DTE xmlns="http://www.sii.cl/SiiDte">`, the file lost it in transit (SII downloads, cordada#15).
 * - `without-sii-ns`: as `none`, ignoring every `xmlns="http://www.sii.cl/SiiDte"`: the signer saw no
 *   namespace, someone added it afterwards (cleaners that "fix" received files).
 */
export type NsMode = 'in-context' | 'default-only' | 'none' | 'with-sii-ns' | 'without-sii-ns';

const SII_NS = 'http://www.sii.cl/SiiDte';

export interface CanonicalizeOptions {
  /** How namespace declarations made strictly above `boundary` are kept (default `in-context`: all). */
  mode?: NsMode;
  /**
   * Root of the document the signer saw; must be the apex or one of its ancestors (default: the
   * apex). Declarations on the boundary and below are always kept.
   */
  boundary?: XmlElement;
  /** A descendant omitted entirely (the enveloped-signature transform). */
  excludeElement?: XmlElement;
  /** Render comments (`#WithComments` variant). Default false. */
  withComments?: boolean;
}

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

/**
 * Compare two strings by Unicode code point (C14N orders by UCS code point; JS `<` compares UTF-16
 * code units, which differs only between astral characters and U+E000..U+FFFF).
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca === cb) continue;
    if (ca >= 0xd800 && cb >= 0xd800) {
      // Surrogates (astral code points) sort after U+E000..U+FFFF.
      ca = ca < 0xe000 ? ca + 0x2000 : ca - 0x800;
      cb = cb < 0xe000 ? cb + 0x2000 : cb - 0x800;
    }
    return ca - cb;
  }
  return a.length - b.length;
}

const byPrefix = (a: [string, string], b: [string, string]): number => compareCodePoints(a[0], b[0]);

const byNsThenLocal = (a: XmlAttribute, b: XmlAttribute): number => compareCodePoints(a.uri, b.uri) || compareCodePoints(a.local, b.local);

/** Render sorted attributes (` name="value"`). */
function renderAttributes(attrs: readonly XmlAttribute[]): string {
  if (attrs.length === 1) {
    const a = attrs[0] as XmlAttribute;
    return ' ' + a.name + '="' + escapeAttr(a.value) + '"';
  }
  const sorted = attrs.slice().sort(byNsThenLocal);
  let s = '';
  for (const a of sorted) s += ' ' + a.name + '="' + escapeAttr(a.value) + '"';
  return s;
}

/** Render namespace declarations sorted: default first, then by prefix. */
function renderNs(decls: Array<[string, string]>): string {
  if (decls.length > 1) decls.sort(byPrefix);
  let s = '';
  for (const [p, u] of decls) s += (p === '' ? ' xmlns="' : ' xmlns:' + p + '="') + escapeAttr(u) + '"';
  return s;
}

interface Frame {
  el: XmlElement;
  i: number;
  /** Namespace context in scope (= rendered, for inclusive C14N of a whole subtree). */
  scope: Map<string, string>;
}

/**
 * Inclusive Canonical XML 1.0 (without comments) of `el` and its descendants.
 *
 * @example
 * ```ts
 * const doc = parseXml(envioDteBytes);
 * const documento = findAll(doc.root, 'Documento')[0]!;
 * const dte = documento.parent!;
 * // as the signer saw it when it signed the DTE standalone:
 * const c = canonicalize(documento, { mode: 'default-only', boundary: dte });
 * ```
 */
export function canonicalize(el: XmlElement, opts: CanonicalizeOptions = {}): string {
  const mode = opts.mode ?? 'in-context';
  const boundary = opts.boundary ?? el;
  const exclude = opts.excludeElement;
  const withComments = opts.withComments === true;
  const stripSii = mode === 'without-sii-ns';
  if (el === exclude) return '';

  // Ancestors, nearest first; `above` marks those strictly above the boundary.
  const ancestors: XmlElement[] = [];
  let boundaryIndex = boundary === el ? 0 : -1; // index in `ancestors` of the first element above the boundary
  for (let p = el.parent; p; p = p.parent) {
    ancestors.push(p);
    if (p === boundary) boundaryIndex = ancestors.length;
  }
  if (boundaryIndex < 0) throw new TypeError('canonicalize: boundary must be the element itself or one of its ancestors');

  // Namespace context at the apex: walk from the root down, filtering declarations above the boundary.
  const scope = new Map<string, string>();
  for (let k = ancestors.length - 1; k >= 0; k--) {
    const a = ancestors[k] as XmlElement;
    const above = k >= boundaryIndex;
    for (const d of a.nsDecls) {
      if (above && mode !== 'in-context' && !(mode === 'default-only' && d.prefix === '')) continue;
      if (stripSii && d.prefix === '' && d.uri === SII_NS) continue;
      scope.set(d.prefix, d.uri);
    }
  }
  for (const d of el.nsDecls) if (!(stripSii && d.prefix === '' && d.uri === SII_NS)) scope.set(d.prefix, d.uri);
  if (mode === 'with-sii-ns' && !scope.get('')) scope.set('', SII_NS);

  // Apex start tag: every namespace in scope (but xmlns="" and the xml prefix).
  const nsList: Array<[string, string]> = [];
  for (const [p, u] of scope) {
    if (p === 'xml') continue;
    if (p === '' && u === '') continue;
    nsList.push([p, u]);
  }
  let attrs: readonly XmlAttribute[] = el.attributes;
  // C14N 1.0: xml:* attributes of ancestors (nearest wins) are inherited onto the apex. In the
  // reduced modes only ancestors up to the boundary count (the signer's document started there).
  const inheritLimit = mode === 'in-context' ? ancestors.length : boundaryIndex;
  for (let k = 0; k < inheritLimit; k++) {
    const a = ancestors[k] as XmlElement;
    for (const at of a.attributes) {
      if (at.uri !== XML_NS) continue;
      if (attrs.some((x) => x.uri === XML_NS && x.local === at.local)) continue;
      if (attrs === el.attributes) attrs = el.attributes.slice();
      (attrs as XmlAttribute[]).push(at);
    }
  }
  let out = '<' + el.name + renderNs(nsList) + (attrs.length ? renderAttributes(attrs) : '') + '>';

  const stack: Frame[] = [{ el, i: 0, scope }];
  while (stack.length > 0) {
    const f = stack[stack.length - 1] as Frame;
    const children = f.el.children;
    if (f.i >= children.length) {
      out += '</' + f.el.name + '>';
      stack.pop();
      continue;
    }
    const c = children[f.i++];
    if (c === undefined) continue;
    switch (c.type) {
      case 'text':
        out += escapeText(c.value);
        break;
      case 'pi':
        out += c.data === '' ? '<?' + c.target + '?>' : '<?' + c.target + ' ' + c.data + '?>';
        break;
      case 'comment':
        if (withComments) out += '<!--' + c.value + '-->';
        break;
      case 'element': {
        if (c === exclude) break;
        let s = f.scope;
        out += '<' + c.name;
        if (c.nsDecls.length > 0) {
          let changed: Array<[string, string]> | null = null;
          for (const d of c.nsDecls) {
            if (d.prefix === 'xml') continue;
            if (stripSii && d.prefix === '' && d.uri === SII_NS) continue;
            const cur = s.get(d.prefix) ?? (d.prefix === '' ? '' : undefined);
            if (cur === d.uri) continue; // redundant (xmlns="" where no default is in effect included)
            if (changed === null) {
              changed = [];
              s = new Map(s);
            }
            s.set(d.prefix, d.uri);
            changed.push([d.prefix, d.uri]);
          }
          if (changed !== null) out += renderNs(changed);
        }
        if (c.attributes.length > 0) out += renderAttributes(c.attributes);
        out += '>';
        stack.push({ el: c, i: 0, scope: s });
        break;
      }
    }
  }
  return out;
}

/**
 * Canonical form of a whole parsed document (a `URI=""` reference): the root element with no
 * ancestors. Processing instructions and comments outside the root element are not kept by
 * `parseXml`, so they are not rendered.
 */
export function canonicalizeDocument(doc: XmlDocument, opts: { excludeElement?: XmlElement; withComments?: boolean } = {}): string {
  return canonicalize(doc.root, { ...opts, mode: 'in-context' });
}
