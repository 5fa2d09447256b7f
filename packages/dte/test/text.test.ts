import { describe, expect, it } from 'vitest';
import { encodeLatin1, escapeAttr, escapeText, toLatin1Text, wrapBase64 } from '../src/xml/text.js';
import { TimbreError } from '../src/errors.js';

describe('XML text rules', () => {
  it('escapes like C14N', () => {
    expect(escapeText('a & b < c > d \r e "q" \'s\'')).toBe('a &amp; b &lt; c &gt; d &#xD; e "q" \'s\'');
    expect(escapeAttr('a & b < c > "q"\t\n\r')).toBe('a &amp; b &lt; c > &quot;q&quot;&#x9;&#xA;&#xD;');
  });

  it('keeps Latin-1, replaces by the explicit table, strips foreign diacritics, refuses the rest', () => {
    expect(toLatin1Text('Ñuñoa café Ü', 'f')).toBe('Ñuñoa café Ü');
    expect(toLatin1Text('“Oferta” – 10 € … ’', 'f')).toBe('"Oferta" - 10 EUR ... \'');
    expect(toLatin1Text('Łódź Őrs', 'f')).toBe('Lódz Ors');
    try {
      toLatin1Text('pizza 🍕', 'items[0].nombre');
      expect.unreachable();
    } catch (e) {
      expect((e as TimbreError).code).toBe('ERR_CHAR_NOT_LATIN1');
      expect((e as TimbreError).field).toBe('items[0].nombre');
    }
    expect(() => toLatin1Text('“x”', 'f', 'refuse')).toThrow(/U\+201C/);
    expect(() => toLatin1Text('bell\u0007', 'f')).toThrow(TimbreError);
  });

  it('encodes ISO-8859-1 bytes, one byte per character', () => {
    expect([...encodeLatin1('Ñá')]).toEqual([0xd1, 0xe1]);
    expect(() => encodeLatin1('€')).toThrow(TimbreError);
  });

  it('wraps base64 at 76 characters', () => {
    const b = 'A'.repeat(200);
    expect(wrapBase64(b).split('\n').map((l) => l.length)).toEqual([76, 76, 48]);
    expect(wrapBase64('abc')).toBe('abc');
  });
});
