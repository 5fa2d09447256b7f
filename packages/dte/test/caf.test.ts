import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addCalendarMonths,
  checkCafFor,
  flattenXml,
  idkFromFileName,
  loadTrustedKeys,
  parseCaf,
  verifyCaf,
  type Caf,
} from '../src/caf.js';
import { TimbreError } from '../src/errors.js';
import { generateFixtures, type Fixtures } from '../src/fixtures.js';

const SII_KEYS_DIR = '/work/shared/sii/keys';
const HAS_OPENSSL = spawnSync('openssl', ['version']).status === 0;

let fx: Fixtures;
let fxOld: Fixtures;
let tmp: string;
let fakeTrust: ReturnType<typeof loadTrustedKeys>;

const latin1 = (b: Buffer): string => b.toString('latin1');
const cafFile = (f: Fixtures, tipo: number): Buffer => {
  const c = f.cafs.find((x) => x.tipoDte === tipo);
  if (!c) throw new Error(`no fixture CAF ${tipo}`);
  return c.xml;
};
/** Independent re-implementation of the flattening rule, for the oracle checks. */
const daFlatOf = (fileText: string): string => {
  const m = /<DA>[\s\S]*<\/DA>/.exec(fileText);
  if (!m) throw new Error('no DA');
  return m[0].split(/>\s*\n\s*</).join('><').replace(/>[ \t\r\n]+</g, '><');
};

function codeOf(fn: () => unknown): { code?: string; field?: string; siiCode?: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof TimbreError) return { code: e.code, ...(e.field ? { field: e.field } : {}), ...(e.siiCode ? { siiCode: e.siiCode } : {}) };
    throw e;
  }
  return {};
}

beforeAll(() => {
  fx = generateFixtures({ fechaAutorizacion: '2025-04-11', tipos: [33, 34, 52, 61] });
  fxOld = generateFixtures({ fechaAutorizacion: '2024-01-15', tipos: [33], idk: 100 });
  fakeTrust = loadTrustedKeys([{ idk: fx.sii.idk, pem: fx.sii.publicKeyPem }]);
  tmp = mkdtempSync(path.join(tmpdir(), 'timbre-caf-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('parseCaf', () => {
  it('reads every DA field of an SII-shaped Latin-1 file without encoding declaration', () => {
    const bytes = cafFile(fx, 33);
    expect(bytes.subarray(0, 21).toString('latin1')).toBe('<?xml version="1.0"?>');
    const caf = parseCaf(bytes);
    expect(caf.rutEmisor).toBe('76086428-5');
    expect(caf.razonSocial).toBe('EMPRESA DEMO TIMBRE DISEÑO SPA');
    expect(caf.tipoDte).toBe(33);
    expect([caf.desde, caf.hasta]).toEqual([1, 1000]);
    expect(caf.fechaAutorizacion).toBe('2025-04-11');
    expect(caf.idk).toBe(fx.sii.idk);
    expect(caf.privateKey?.asymmetricKeyType).toBe('rsa');
    expect(caf.publicKey.asymmetricKeyDetails).toMatchObject({ modulusLength: 512, publicExponent: 3n });
    expect(caf.expiresAt).toBe('2025-10-11');
    expect(caf.frma).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('keeps the <CAF> element verbatim and flattens DA by the rule', () => {
    const text = latin1(cafFile(fx, 33));
    const caf = parseCaf(cafFile(fx, 33));
    const start = text.indexOf('<CAF version="1.0">');
    const end = text.indexOf('</CAF>') + '</CAF>'.length;
    expect(caf.cafXml).toBe(text.slice(start, end));
    expect(caf.cafXml).toContain('\n<DA>\n'); // verbatim: the file's newlines are kept
    expect(caf.daFlattened).toBe(daFlatOf(text));
    expect(caf.daFlattened).not.toMatch(/>\s+</);
  });

  it('reads a bare <CAF> element (as embedded in a TED) without private key', () => {
    const full = parseCaf(cafFile(fx, 33));
    const bare = parseCaf(full.cafXml);
    expect(bare.privateKey).toBeUndefined();
    expect(bare.publicKey.equals(full.publicKey)).toBe(true);
    expect(bare.daFlattened).toBe(full.daFlattened);
    expect(bare.cafXml).toBe(full.cafXml);
    verifyCaf(bare, { trustedKeys: fakeTrust });
  });

  it('gives expiresAt only for the types whose CAFs expire', () => {
    expect(parseCaf(cafFile(fx, 61)).expiresAt).toBe('2025-10-11');
    expect(parseCaf(cafFile(fx, 34)).expiresAt).toBeUndefined();
    expect(parseCaf(cafFile(fx, 52)).expiresAt).toBeUndefined();
  });

  it('names the missing or bad field with ERR_CAF_MALFORMED', () => {
    const text = latin1(cafFile(fx, 33));
    const variant = (from: RegExp, to: string) => Buffer.from(text.replace(from, to), 'latin1');
    expect(codeOf(() => parseCaf(variant(/<IDK>\d+<\/IDK>/, '')))).toEqual({ code: 'ERR_CAF_MALFORMED', field: 'DA/IDK' });
    expect(codeOf(() => parseCaf(variant(/<RNG>.*<\/RNG>/, '')))).toEqual({ code: 'ERR_CAF_MALFORMED', field: 'DA/RNG' });
    expect(codeOf(() => parseCaf(variant(/<H>\d+<\/H>/, '<H>x</H>')))).toEqual({ code: 'ERR_CAF_MALFORMED', field: 'DA/RNG/H' });
    expect(codeOf(() => parseCaf(variant(/<FA>[^<]*<\/FA>/, '<FA>2025-02-30</FA>')))).toEqual({ code: 'ERR_CAF_MALFORMED', field: 'DA/FA' });
    expect(codeOf(() => parseCaf(variant(/<FRMA[^>]*>[^<]*<\/FRMA>/, '')))).toEqual({ code: 'ERR_CAF_MALFORMED', field: 'FRMA' });
    expect(codeOf(() => parseCaf(variant(/<M>[^<]*<\/M>/, '<M>AAAA</M>')))).toEqual({ code: 'ERR_CAF_MALFORMED', field: 'DA/RSAPK/M' });
    expect(codeOf(() => parseCaf(variant(/<RSASK>[\s\S]*<\/RSASK>/, '<RSASK>not a key</RSASK>')))).toEqual({ code: 'ERR_CAF_MALFORMED', field: 'RSASK' });
    expect(codeOf(() => parseCaf(variant(/<RSAPK>.*<\/RSAPK>/, '<DSAPK><P>AA==</P><Q>AA==</Q><G>AA==</G><Y>AA==</Y></DSAPK>'))).code).toBe('ERR_CAF_MALFORMED');
    expect(codeOf(() => parseCaf('<FOLIOS/>'))).toEqual({ code: 'ERR_CAF_MALFORMED', field: 'AUTORIZACION' });
    expect(codeOf(() => parseCaf('not xml at all')).code).toBe('ERR_CAF_MALFORMED');
    expect(codeOf(() => parseCaf('<!DOCTYPE x [<!ENTITY a "b">]><AUTORIZACION/>')).code).toBe('ERR_CAF_MALFORMED');
  });

  it('refuses an RSAPUBK that is not the RSAPK', () => {
    const other = latin1(cafFile(fx, 34)).match(/<RSAPUBK>[\s\S]*<\/RSAPUBK>/)?.[0] ?? '';
    const text = latin1(cafFile(fx, 33)).replace(/<RSAPUBK>[\s\S]*<\/RSAPUBK>/, other);
    expect(codeOf(() => parseCaf(Buffer.from(text, 'latin1')))).toEqual({ code: 'ERR_CAF_KEY_MISMATCH', field: 'RSAPUBK' });
  });
});

describe('verifyCaf', () => {
  it('accepts the FRMA of every fixture CAF', () => {
    for (const c of fx.cafs) expect(() => verifyCaf(parseCaf(c.xml), { trustedKeys: fakeTrust })).not.toThrow();
  });

  it('agrees with openssl dgst -sha1 -verify on the flattened DA bytes', () => {
    if (!HAS_OPENSSL) return expect.fail('openssl is required for the oracle check');
    const pub = path.join(tmp, 'sii.pub.pem');
    writeFileSync(pub, fx.sii.publicKeyPem); // with its "# NOT VALID" line before -----BEGIN
    for (const c of fx.cafs) {
      const caf = parseCaf(c.xml);
      const da = path.join(tmp, `da${c.tipoDte}.bin`);
      const sig = path.join(tmp, `frma${c.tipoDte}.bin`);
      writeFileSync(da, Buffer.from(daFlatOf(latin1(c.xml)), 'latin1'));
      writeFileSync(sig, Buffer.from(caf.frma, 'base64'));
      const out = execFileSync('openssl', ['dgst', '-sha1', '-verify', pub, '-signature', sig, da]).toString();
      expect(out.trim()).toBe('Verified OK');
      // the DA bytes carry the Ñ as one ISO-8859-1 byte
      expect(readFileSync(da).includes(0xd1)).toBe(true);
      // and openssl refuses the unflattened DA: the rule matters
      writeFileSync(da, Buffer.from(/<DA>[\s\S]*<\/DA>/.exec(latin1(c.xml))?.[0] ?? '', 'latin1'));
      const bad = spawnSync('openssl', ['dgst', '-sha1', '-verify', pub, '-signature', sig, da]);
      expect(bad.status).not.toBe(0);
    }
  });

  it('detects a tampered range (H changed) with ERR_CAF_SIGNATURE_INVALID', () => {
    const text = latin1(cafFile(fx, 33)).replace('<H>1000</H>', '<H>9999</H>');
    const caf = parseCaf(Buffer.from(text, 'latin1'));
    expect(caf.hasta).toBe(9999);
    expect(codeOf(() => verifyCaf(caf, { trustedKeys: fakeTrust }))).toEqual({ code: 'ERR_CAF_SIGNATURE_INVALID', field: 'FRMA' });
  });

  it('detects changed text in RS (Ñ → N)', () => {
    const text = latin1(cafFile(fx, 33)).replace('DISEÑO', 'DISENO');
    expect(codeOf(() => verifyCaf(parseCaf(Buffer.from(text, 'latin1')), { trustedKeys: fakeTrust })).code).toBe('ERR_CAF_SIGNATURE_INVALID');
  });

  it('detects a Caf object whose fields were changed after parsing', () => {
    const caf: Caf = { ...parseCaf(cafFile(fx, 33)), hasta: 5000 };
    expect(codeOf(() => verifyCaf(caf, { trustedKeys: fakeTrust }))).toEqual({ code: 'ERR_CAF_SIGNATURE_INVALID', field: 'DA/RNG/H' });
  });

  it('ignores whitespace between tags (re-indented, CRLF) and re-encoding to UTF-8', () => {
    const text = latin1(cafFile(fx, 33));
    const reindented = text.replace(/\n</g, '\r\n    <');
    const caf = parseCaf(Buffer.from(reindented, 'latin1'));
    verifyCaf(caf, { trustedKeys: fakeTrust });
    const utf8 = Buffer.from(text, 'utf8'); // someone saved the file as UTF-8
    const caf2 = parseCaf(utf8);
    expect(caf2.razonSocial).toBe('EMPRESA DEMO TIMBRE DISEÑO SPA');
    verifyCaf(caf2, { trustedKeys: fakeTrust });
  });

  it('refuses an unknown IDK with ERR_CAF_UNTRUSTED_KEY (real SII keys 100/300 only)', () => {
    const real = loadTrustedKeys([100, 300].map((idk) => ({ idk, pem: readFileSync(path.join(SII_KEYS_DIR, `sii_${idk}.pub.pem`), 'utf8') })));
    expect(codeOf(() => verifyCaf(parseCaf(cafFile(fx, 33)), { trustedKeys: real }))).toEqual({ code: 'ERR_CAF_UNTRUSTED_KEY', field: 'DA/IDK' });
  });

  it('refuses a CAF claiming IDK 100 but not signed by the real SII key 100', () => {
    const real = loadTrustedKeys([{ idk: 100, pem: readFileSync(path.join(SII_KEYS_DIR, 'sii_100.pub.pem'), 'utf8') }]);
    const caf = parseCaf(cafFile(fxOld, 33));
    expect(caf.idk).toBe(100);
    expect(codeOf(() => verifyCaf(caf, { trustedKeys: real })).code).toBe('ERR_CAF_SIGNATURE_INVALID');
    // the same CAF verifies with the key that did sign it
    verifyCaf(caf, { trustedKeys: loadTrustedKeys([{ idk: 100, pem: fxOld.sii.publicKeyPem }]) });
  });

  it('refuses an RSASK that does not belong to RSAPK (swapped CAF key)', () => {
    const otherSk = latin1(cafFile(fx, 34)).match(/<RSASK>[\s\S]*<\/RSASK>/)?.[0] ?? '';
    const text = latin1(cafFile(fx, 33)).replace(/<RSASK>[\s\S]*<\/RSASK>/, otherSk);
    const caf = parseCaf(Buffer.from(text, 'latin1'));
    expect(codeOf(() => verifyCaf(caf, { trustedKeys: fakeTrust }))).toEqual({ code: 'ERR_CAF_KEY_MISMATCH', field: 'RSASK' });
  });

  it('verifies a DA re-serialized with character references (C14N fallback)', () => {
    const text = latin1(cafFile(fx, 33)).replace('DISEÑO', 'DISE&#209;O');
    const caf = parseCaf(Buffer.from(text, 'latin1'));
    expect(caf.razonSocial).toBe('EMPRESA DEMO TIMBRE DISEÑO SPA');
    verifyCaf(caf, { trustedKeys: fakeTrust });
  });
});

describe('checkCafFor', () => {
  let caf33: Caf;
  let caf34: Caf;
  beforeAll(() => {
    caf33 = parseCaf(cafFile(fx, 33)); // FA 2025-04-11, folios 1..1000
    caf34 = parseCaf(cafFile(fx, 34));
  });
  const want = { rutEmisor: '76086428-5', tipoDte: 33, folio: 10, fecha: '2025-05-01' };

  it('accepts a covered document (RUT in any accepted form)', () => {
    expect(() => checkCafFor(caf33, want)).not.toThrow();
    expect(() => checkCafFor(caf33, { ...want, rutEmisor: '76.086.428-5' })).not.toThrow();
    expect(() => checkCafFor(caf33, { ...want, folio: 1 })).not.toThrow();
    expect(() => checkCafFor(caf33, { ...want, folio: 1000, fecha: '2025-04-11' })).not.toThrow();
  });

  it('refuses a CAF of another issuer or type', () => {
    expect(codeOf(() => checkCafFor(caf33, { ...want, rutEmisor: '96874030-K' })).code).toBe('ERR_CAF_WRONG_EMISOR');
    expect(codeOf(() => checkCafFor(caf33, { ...want, tipoDte: 34 })).code).toBe('ERR_CAF_WRONG_TIPO');
  });

  it('refuses folios outside D..H', () => {
    expect(codeOf(() => checkCafFor(caf33, { ...want, folio: 0 })).code).toBe('ERR_CAF_FOLIO_OUT_OF_RANGE');
    expect(codeOf(() => checkCafFor(caf33, { ...want, folio: 1001 })).code).toBe('ERR_CAF_FOLIO_OUT_OF_RANGE');
    expect(codeOf(() => checkCafFor(caf33, { ...want, folio: 10.5 })).code).toBe('ERR_CAF_FOLIO_OUT_OF_RANGE');
  });

  it('refuses an issue date before FA (TED-1-646)', () => {
    expect(codeOf(() => checkCafFor(caf33, { ...want, fecha: '2025-04-10' }))).toEqual({ code: 'ERR_CAF_NOT_YET_VALID', field: 'fecha', siiCode: 'TED-1-646' });
  });

  it('expires 33/43/46/56/61 CAFs after 6 calendar months (CAF-3-517), boundaries included', () => {
    expect(() => checkCafFor(caf33, { ...want, fecha: '2025-10-10' })).not.toThrow();
    expect(codeOf(() => checkCafFor(caf33, { ...want, fecha: '2025-10-11' }))).toEqual({ code: 'ERR_CAF_EXPIRED', field: 'fecha', siiCode: 'CAF-3-517' });
    // FA 7 months before the issue date
    expect(codeOf(() => checkCafFor(caf33, { ...want, fecha: '2025-11-11' })).siiCode).toBe('CAF-3-517');
    // type 34 does not expire
    expect(() => checkCafFor(caf34, { ...want, tipoDte: 34, fecha: '2027-11-11' })).not.toThrow();
  });

  it('defines 6 months as calendar months, clamping short months forward', () => {
    expect(addCalendarMonths('2025-04-11', 6)).toBe('2025-10-11');
    expect(addCalendarMonths('2025-08-31', 6)).toBe('2026-03-01'); // Feb 2026 has 28 days
    expect(addCalendarMonths('2023-08-29', 6)).toBe('2024-02-29'); // leap year
    expect(addCalendarMonths('2025-07-15', 6)).toBe('2026-01-15');
    expect(addCalendarMonths('2024-12-31', 6)).toBe('2025-07-01'); // June has 30 days
  });
});

describe('trusted SII keys', () => {
  it('loads the real SII keys 100 and 300 and names them from the file names', () => {
    const files = readdirSync(SII_KEYS_DIR).filter((f) => f.endsWith('.pem'));
    const pems = files.map((f) => {
      const idk = idkFromFileName(f);
      if (idk === undefined) throw new Error(`no IDK in ${f}`);
      return { idk, pem: readFileSync(path.join(SII_KEYS_DIR, f), 'utf8') };
    });
    const keys = loadTrustedKeys(pems);
    expect([...keys.keys()].sort((a, b) => a - b)).toEqual([100, 300]);
    for (const k of keys.values()) expect(k.asymmetricKeyType).toBe('rsa');
    expect(keys.get(100)?.equals(keys.get(300) as never)).toBe(false);
  });

  it('parses IDKs from the accepted file names only', () => {
    expect(idkFromFileName('100.pem')).toBe(100);
    expect(idkFromFileName('sii_100.pub.pem')).toBe(100);
    expect(idkFromFileName('300.pub.pem')).toBe(300);
    expect(idkFromFileName('/etc/timbre/trust/300.PEM')).toBe(300);
    expect(idkFromFileName('999999999.pem')).toBe(999999999);
    expect(idkFromFileName('README.md')).toBeUndefined();
    expect(idkFromFileName('sii.pem')).toBeUndefined();
    expect(idkFromFileName('100.pem.bak')).toBeUndefined();
  });

  it('refuses non-PEM or non-RSA keys', () => {
    expect(codeOf(() => loadTrustedKeys([{ idk: 1, pem: 'hello' }])).code).toBe('ERR_INPUT_INVALID');
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(codeOf(() => loadTrustedKeys([{ idk: 1, pem: ec }])).code).toBe('ERR_INPUT_INVALID');
  });
});

describe('flattenXml', () => {
  it('removes only XML whitespace between tags, never text', () => {
    expect(flattenXml('<a>\n  <b>X  Y</b>\t\r\n<c> </c></a>')).toBe('<a><b>X  Y</b><c></c></a>');
    expect(flattenXml('<a>\u00a0</a>')).toBe('<a>\u00a0</a>'); // NBSP is text, not XML whitespace
  });
});

/**
 * Optional oracle against real SII material (not committed: real CAFs carry private keys).
 * TIMBRE_REAL_CAF_DIR=dir with SII CAF files (*.xml); each must verify with the real SII keys.
 */
describe.skipIf(!process.env.TIMBRE_REAL_CAF_DIR)('real SII CAFs (TIMBRE_REAL_CAF_DIR)', () => {
  it('verifies every real CAF with the real SII key of its IDK', () => {
    const dir = process.env.TIMBRE_REAL_CAF_DIR as string;
    const keys = loadTrustedKeys([100, 300].map((idk) => ({ idk, pem: readFileSync(path.join(SII_KEYS_DIR, `sii_${idk}.pub.pem`), 'utf8') })));
    const files = readdirSync(dir).filter((f) => f.endsWith('.xml') && existsSync(path.join(dir, f)));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const caf = parseCaf(readFileSync(path.join(dir, f)));
      verifyCaf(caf, { trustedKeys: keys });
      // sanity: a one-bit change of the signed range breaks it
      expect(codeOf(() => verifyCaf({ ...caf, daFlattened: caf.daFlattened.replace(`<H>${caf.hasta}</H>`, `<H>${caf.hasta + 1}</H>`) }, { trustedKeys: keys })).code).toBe(
        'ERR_CAF_SIGNATURE_INVALID',
      );
    }
  });
});

// keep the helpers honest: the independent flattening helper agrees with a signature check
describe('test oracle helper', () => {
  it('daFlatOf produces what the fixture generator signed', () => {
    const text = latin1(cafFile(fx, 33));
    const caf = parseCaf(cafFile(fx, 33));
    const key = createPublicKey(fx.sii.publicKeyPem.slice(fx.sii.publicKeyPem.indexOf('-----BEGIN')));
    expect(verify('sha1', Buffer.from(daFlatOf(text), 'latin1'), key, Buffer.from(caf.frma, 'base64'))).toBe(true);
  });
});
