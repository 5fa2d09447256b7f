/**
 * Canonical XML 1.0 against independent implementations: libxml2 through `xmlsec1` (the exact
 * octets it digests for a `#ID` reference, printed by `--store-references`) and `xmllint --c14n`
 * (whole documents).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalize, canonicalizeDocument, compareCodePoints } from '../src/xml/c14n.js';
import { findAll, parseXml, type XmlElement } from '../src/xml/parse.js';

let dir = '';
let keyFile = '';
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'timbre-c14n-'));
  keyFile = join(dir, 'key.pem');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const bytesOf = (xml: string | Buffer): Buffer => (typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml);

const template = (uri: string, enveloped: boolean): string =>
  '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#"><SignedInfo>' +
  '<CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"/>' +
  '<SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/>' +
  `<Reference URI="${uri}">` +
  (enveloped ? '<Transforms><Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/></Transforms>' : '') +
  '<DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><DigestValue/></Reference></SignedInfo><SignatureValue/></Signature>';

/** Insert a signature template as the last child of the root element (bytes in, bytes out). */
function withTemplate(xml: Buffer, uri: string, enveloped: boolean): Buffer {
  const s = xml.toString('latin1');
  const at = s.lastIndexOf('</');
  return Buffer.concat([xml.subarray(0, at), Buffer.from(template(uri, enveloped), 'latin1'), xml.subarray(at)]);
}

/**
 * The octets xmlsec1 (libxml2's C14N) digests for `Reference URI=uri`; the extraction from its
 * debug output is checked against the digest it computed.
 */
function xmlsecCanonical(xml: Buffer, uri: string, idElement?: string): string {
  const file = join(dir, `in-${n++}.xml`);
  writeFileSync(file, withTemplate(xml, uri, uri === ''));
  const args = ['--sign', '--privkey-pem', keyFile, '--store-references', '--output', join(dir, 'out.xml')];
  if (idElement) args.push('--id-attr:ID', idElement);
  args.push(file);
  const r = spawnSync('xmlsec1', args, { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`xmlsec1 failed: ${r.stderr.toString()}`);
  const out = r.stdout;
  const startMark = Buffer.from('== PreDigest data - start buffer:\n');
  const endMark = Buffer.from('\n== PreDigest data - end buffer');
  const s = out.indexOf(startMark) + startMark.length;
  const e = out.indexOf(endMark, s);
  const octets = out.subarray(s, e);
  const resMark = Buffer.from('== Result - start buffer:\n');
  const r0 = out.indexOf(resMark, e) + resMark.length;
  const digest = out.subarray(r0, out.indexOf(0x0a, r0)).toString('latin1');
  if (createHash('sha1').update(octets).digest('base64') !== digest) throw new Error('could not extract the pre-digest octets from xmlsec1 output');
  return octets.toString('utf8');
}

/** `xmllint --c14n` of a whole document (xmllint's --c14n keeps comments: compare with `withComments`). */
function xmllintC14n(xml: Buffer): string {
  const file = join(dir, `doc-${n++}.xml`);
  writeFileSync(file, xml);
  return execFileSync('xmllint', ['--c14n', file]).toString('utf8');
}

function byId(root: XmlElement, id: string): XmlElement {
  const stack = [root];
  while (stack.length) {
    const e = stack.pop() as XmlElement;
    if (e.attributes.some((a) => a.local === 'ID' && a.value === id)) return e;
    for (const c of e.children) if (c.type === 'element') stack.push(c);
  }
  throw new Error(`no ID ${id}`);
}

interface Case {
  name: string;
  xml: Buffer;
  targets: Array<[element: string, id: string]>;
}

const CASES: Case[] = [
  {
    name: 'namespaces: inherited, redundant, xmlns="", redeclared prefixes',
    xml: bytesOf(
      '<Env xmlns="urn:env" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:p="urn:p" xsi:schemaLocation="urn:env x.xsd" version="1.0">\n' +
        ' <Set ID="S1">\n' +
        '  <DTE xmlns="urn:env" version="1.0"><Doc ID="D1" p:z="z" a="1"><X xmlns="">t<Y xmlns="urn:env"><Z xmlns:p="urn:p" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></Y><V xmlns=""/></X><p:W xmlns:p="urn:other" p:k="v"/></Doc></DTE>\n' +
        '  <q:E xmlns:q="urn:q" ID="E1"><q:F xmlns:q="urn:q2" xmlns="urn:d"><G xmlns=""><H xmlns="urn:d"/></G></q:F><q:F/></q:E>\n' +
        ' </Set>\n' +
        '</Env>\n',
    ),
    targets: [
      ['Set', 'S1'],
      ['Doc', 'D1'],
      ['E', 'E1'],
    ],
  },
  {
    name: 'attributes: ordering by namespace URI then local name, xml:* inheritance, escaping of CR/TAB/LF',
    xml: bytesOf(
      '<r xmlns:b="urn:b" xmlns:a="urn:z" xmlns:c="urn:a" xml:lang="es-CL" xml:base="http://x/">' +
        '<e ID="A1" z="1" b:y="2" a:x="3" xml:space="preserve" c:q="0" y="&#9;tab&#10;lf&#13;cr&#xD;&#xA;" x="lit\ttab\r\nnl" ' +
        'w="&lt;&amp;&gt;&quot;\'&apos;>" b:a="4" xml:lang="en"><k xml:lang="de" b:m="1" m="2"/></e>' +
        '<f ID="A2"><g ID="A3" c:b="1" a:b="2" b="3"/></f></r>',
    ),
    targets: [
      ['e', 'A1'],
      ['f', 'A2'],
      ['g', 'A3'],
    ],
  },
  {
    name: 'text: entities, CDATA, CR, PIs, comments, Latin-1 bytes, CRLF line ends',
    xml: Buffer.from(
      '<?xml version="1.0" encoding="ISO-8859-1"?>\r\n<r><!-- c0 -->\r\n<t ID="T1">a &amp; b &lt; c &gt; d "q" \'a\' &#xD;&#13;\r\nline2\rline3\r\n' +
        '<![CDATA[<x> & "y" \r\n ]]>]]&gt;<?pi  d  a ?><?pi2?><!-- dropped -->ÑANDÚ ñ á ü &#8364; &#x1F600; &#x2019;<e/>   <f></f>\t</t>\r\n</r>\r\n',
      'latin1',
    ),
    targets: [['t', 'T1']],
  },
  {
    name: 'a realistic DTE inside an EnvioDTE',
    xml: Buffer.from(
      '<?xml version="1.0" encoding="ISO-8859-1"?>\n' +
        '<EnvioDTE xmlns="http://www.sii.cl/SiiDte" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.sii.cl/SiiDte EnvioDTE_v10.xsd" version="1.0">\n' +
        '<SetDTE ID="SetDoc">\n<Caratula version="1.0">\n<RutEmisor>76354771-K</RutEmisor>\n</Caratula>\n' +
        '<DTE version="1.0">\n<Documento ID="F170T33">\n<Encabezado>\n<IdDoc>\n<TipoDTE>33</TipoDTE>\n<Folio>170</Folio>\n</IdDoc>\n' +
        '<Emisor><RznSoc>FERRETERÍA EL ÑANDÚ &amp; CÍA. LTDA.</RznSoc><GiroEmis>Venta "al por menor"</GiroEmis></Emisor>\n' +
        '<Totales><MntNeto>100000</MntNeto><TasaIVA>19</TasaIVA><IVA>19000</IVA><MntTotal>119000</MntTotal></Totales>\n</Encabezado>\n' +
        '<TED version="1.0"><DD><RE>76354771-K</RE><RSR>FERRETERIA EL &apos;NANDU&apos;</RSR><CAF version="1.0"><DA><RNG><D>1</D><H>200</H></RNG><IDK>100</IDK></DA>' +
        '<FRMA algoritmo="SHA1withRSA">abc=</FRMA></CAF><TSTED>2026-01-01T10:00:00</TSTED></DD><FRMT algoritmo="SHA1withRSA">xyz=</FRMT></TED>\n' +
        '<TmstFirma>2026-01-01T10:00:00</TmstFirma>\n</Documento>\n</DTE>\n</SetDTE>\n</EnvioDTE>\n',
      'latin1',
    ),
    targets: [
      ['Documento', 'F170T33'],
      ['SetDTE', 'SetDoc'],
    ],
  },
];

describe('canonicalize (in-context) agrees with xmlsec1/libxml2', () => {
  for (const c of CASES) {
    for (const [element, id] of c.targets) {
      it(`${c.name} — #${id}`, () => {
        const doc = parseXml(c.xml);
        expect(canonicalize(byId(doc.root, id))).toBe(xmlsecCanonical(c.xml, `#${id}`, element));
      });
    }
  }

  it('whole documents (with comments) agree with xmllint --c14n', () => {
    for (const c of CASES) expect(canonicalizeDocument(parseXml(c.xml), { withComments: true })).toBe(xmllintC14n(c.xml));
  });

  it('the enveloped-signature exclusion agrees with xmlsec1 (URI="")', () => {
    for (const c of CASES) {
      const signedish = withTemplate(c.xml, '', true);
      const doc = parseXml(signedish);
      const sig = findAll(doc.root, 'Signature')[0] as XmlElement;
      expect(canonicalizeDocument(doc, { excludeElement: sig })).toBe(xmlsecCanonical(c.xml, ''));
    }
  });
});

describe('randomized documents agree with xmlsec1', () => {
  // A small seeded generator of namespace-heavy, attribute-heavy trees.
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function generate(seed: number): { xml: string; ids: string[] } {
    const r = rng(seed);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)] as T;
    const uris = ['urn:a', 'urn:b', 'urn:c', 'http://www.sii.cl/SiiDte', 'urn:Z'];
    const texts = ['x', ' ', '&amp;', '&lt;', '&gt;', '"', "'", '&#xD;', '\r\n', '\t', 'Ñ', '€', '<![CDATA[&<>]]>', '<?p d?>', '<!--c-->'];
    const values = ['v', '&amp;', '&lt;', '>', '&quot;', "'", '&#9;', '&#10;', '&#13;', ' \t\n', 'Ñ'];
    const ids: string[] = [];
    let idn = 0;
    const el = (depth: number, scope: Map<string, string>): string => {
      const s = new Map(scope);
      let decls = '';
      const nd = Math.floor(r() * 3);
      for (let i = 0; i < nd; i++) {
        const p = pick(['', '', 'a', 'b', 'xsi']);
        const u = p === '' ? pick(['', ...uris]) : pick(uris);
        if (decls.includes(p === '' ? ' xmlns=' : ` xmlns:${p}=`)) continue;
        decls += p === '' ? ` xmlns="${u}"` : ` xmlns:${p}="${u}"`;
        s.set(p, u);
      }
      const bound = [...s.keys()].filter((p) => p !== '');
      const prefix = bound.length > 0 && r() < 0.3 ? pick(bound) : '';
      const name = (prefix ? `${prefix}:` : '') + pick(['T', 'n', 'm']);
      let attrs = '';
      const used = new Set<string>();
      const na = Math.floor(r() * 4);
      for (let i = 0; i < na; i++) {
        const local = pick(['k', 'j', 'Id', 'z']);
        const ap = bound.length > 0 && r() < 0.5 ? pick(bound) : '';
        const uri = ap ? s.get(ap) : '';
        const key = `${uri}|${local}`;
        if (used.has(key)) continue;
        used.add(key);
        attrs += ` ${ap ? `${ap}:` : ''}${local}="${pick(values)}${pick(values)}"`;
      }
      if (r() < 0.15) attrs += ` xml:lang="${pick(['es', 'en'])}"`;
      if (name.endsWith('T') && !name.includes(':')) {
        const id = `i${seed}_${idn++}`;
        ids.push(id);
        attrs += ` ID="${id}"`;
      }
      if (depth >= 4 || r() < 0.2) return `<${name}${decls}${attrs}/>`;
      let body = '';
      const nc = 1 + Math.floor(r() * 4);
      for (let i = 0; i < nc; i++) body += r() < 0.4 ? pick(texts) : el(depth + 1, s);
      return `<${name}${decls}${attrs}>${body}</${name}>`;
    };
    const xml = `<root xmlns="urn:root" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xml:space="default">${el(0, new Map([['', 'urn:root'], ['xsi', 'http://www.w3.org/2001/XMLSchema-instance']]))}<T ID="last${seed}"/></root>`;
    ids.push(`last${seed}`);
    return { xml, ids };
  }

  it('40 generated documents, every ID-bearing element', () => {
    let compared = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const { xml, ids } = generate(seed);
      const bytes = Buffer.from(xml, 'utf8');
      const doc = parseXml(bytes);
      for (const id of ids) {
        expect(canonicalize(byId(doc.root, id)), `seed ${seed} #${id}`).toBe(xmlsecCanonical(bytes, `#${id}`, 'T'));
        compared++;
      }
      expect(canonicalizeDocument(doc, { withComments: true }), `seed ${seed} whole`).toBe(xmllintC14n(bytes));
    }
    expect(compared).toBeGreaterThan(40);
  });
});

describe('namespace modes (the context the signer saw)', () => {
  const DECL = '<?xml version="1.0" encoding="ISO-8859-1"?>';
  const envelope = (dte: string): Buffer =>
    Buffer.from(
      '<?xml version="1.0" encoding="ISO-8859-1"?>\n<EnvioDTE xmlns="http://www.sii.cl/SiiDte" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0">\n' +
        `<SetDTE ID="SetDoc">\n${dte}\n</SetDTE>\n</EnvioDTE>\n`,
      'latin1',
    );
  const dteWithNs =
    '<DTE xmlns="http://www.sii.cl/SiiDte" xmlns:ext="urn:ext" version="1.0">\n<Documento ID="F1T33">\n<Folio>1</Folio>\n<RznSoc>ÑANDÚ</RznSoc><ext:X ext:a="1"/><Y xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>\n</Documento>\n</DTE>';
  const dteNoNs = '<DTE version="1.0">\n<Documento ID="F2T33">\n<Folio>2</Folio><Z xmlns=""/><W xmlns="urn:w"/>\n</Documento>\n</DTE>';

  it('default-only: equals the standalone DTE canonicalized by xmlsec1, and differs from in-context', () => {
    const env = envelope(dteWithNs);
    const doc = parseXml(env);
    const documento = byId(doc.root, 'F1T33');
    const dte = documento.parent as XmlElement;
    const standalone = Buffer.from(`${DECL}\n${dteWithNs}`, 'latin1');
    const oracle = xmlsecCanonical(standalone, '#F1T33', 'Documento');
    expect(canonicalize(documento, { mode: 'default-only', boundary: dte })).toBe(oracle);
    expect(canonicalize(documento, { mode: 'none', boundary: dte })).toBe(oracle); // the DTE declares its own default namespace
    expect(canonicalize(documento, { mode: 'in-context', boundary: dte })).toBe(xmlsecCanonical(env, '#F1T33', 'Documento'));
    expect(canonicalize(documento, { mode: 'in-context', boundary: dte })).not.toBe(oracle);
  });

  it('none: equals the no-namespace standalone DTE canonicalized by xmlsec1', () => {
    const env = envelope(dteNoNs);
    const doc = parseXml(env);
    const documento = byId(doc.root, 'F2T33');
    const dte = documento.parent as XmlElement;
    const oracle = xmlsecCanonical(Buffer.from(`${DECL}\n${dteNoNs}`, 'latin1'), '#F2T33', 'Documento');
    expect(canonicalize(documento, { mode: 'none', boundary: dte })).toBe(oracle);
    expect(canonicalize(documento, { mode: 'default-only', boundary: dte })).not.toBe(oracle);
    // The boundary itself as apex: the standalone document.
    expect(canonicalize(dte, { mode: 'none' })).toBe(xmllintC14n(Buffer.from(`${DECL}\n${dteNoNs}`, 'latin1')));
  });

  it('modes change nothing when the boundary is the root', () => {
    const doc = parseXml(CASES[0]?.xml as Buffer);
    const d1 = byId(doc.root, 'D1');
    const a = canonicalize(d1, { mode: 'in-context', boundary: doc.root });
    expect(canonicalize(d1, { mode: 'none', boundary: doc.root })).toBe(a);
    expect(canonicalize(d1, { mode: 'default-only', boundary: doc.root })).toBe(a);
  });

  it('xml:* attributes above the boundary are inherited only in-context', () => {
    const doc = parseXml('<a xml:lang="es"><b xmlns="urn:b"><c ID="1"/></b></a>');
    const c = byId(doc.root, '1');
    const b = c.parent as XmlElement;
    expect(canonicalize(c, { boundary: b })).toBe('<c xmlns="urn:b" ID="1" xml:lang="es"></c>');
    expect(canonicalize(c, { boundary: b, mode: 'default-only' })).toBe('<c xmlns="urn:b" ID="1"></c>');
  });

  it('refuses a boundary that is not an ancestor (programmer error)', () => {
    const doc = parseXml('<a><b/><c/></a>');
    const [b, c] = doc.root.children as XmlElement[];
    expect(() => canonicalize(b as XmlElement, { boundary: c as XmlElement })).toThrow(TypeError);
  });
});

describe('robustness', () => {
  it('canonicalizes a 10,000-deep tree without recursion', () => {
    const depth = 10_000;
    const doc = parseXml('<a x="1">'.repeat(depth) + '</a>'.repeat(depth), { maxDepth: depth + 1 });
    expect(canonicalizeDocument(doc)).toBe('<a x="1">'.repeat(depth) + '</a>'.repeat(depth));
  });

  it('excluding the apex gives nothing; excluding a descendant removes exactly it', () => {
    const doc = parseXml('<a>x<b>y</b>z</a>');
    const b = doc.root.children[1] as XmlElement;
    expect(canonicalize(doc.root, { excludeElement: doc.root })).toBe('');
    expect(canonicalize(doc.root, { excludeElement: b })).toBe('<a>xz</a>');
  });

  it('withComments renders comments', () => {
    const doc = parseXml('<a><!-- hi -->x</a>');
    expect(canonicalize(doc.root)).toBe('<a>x</a>');
    expect(canonicalize(doc.root, { withComments: true })).toBe('<a><!-- hi -->x</a>');
  });

  it('compareCodePoints orders by code point, not UTF-16 unit', () => {
    expect(compareCodePoints('\u{1F600}', '\uFF01')).toBeGreaterThan(0); // JS '<' says the opposite
    expect('\u{1F600}' < '\uFF01').toBe(true);
    expect(compareCodePoints('a', 'ab')).toBeLessThan(0);
    expect(compareCodePoints('', 'a')).toBeLessThan(0);
    expect(compareCodePoints('b', 'a')).toBeGreaterThan(0);
  });
});
