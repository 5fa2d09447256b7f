import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitDte, generateFixtures, inputToDte, loadPkcs12, parseCaf, parseDteInput, parseXml, toBytes } from '@timbre/dte';
import { describe, expect, it } from 'vitest';
import { retryDelayMs, unsignedXml } from '../src/services/pipeline.js';
import { doc33 } from './helper.js';

describe('retryDelayMs', () => {
  it('doubles per attempt from the base, within ±20 % jitter, capped at 15 minutes', () => {
    expect(retryDelayMs(5_000, 1, () => 0.5)).toBe(5_000);
    expect(retryDelayMs(5_000, 2, () => 0.5)).toBe(10_000);
    expect(retryDelayMs(5_000, 4, () => 0.5)).toBe(40_000);
    expect(retryDelayMs(5_000, 1, () => 0)).toBe(4_000);
    expect(retryDelayMs(5_000, 1, () => 0.999999)).toBe(6_000);
    expect(retryDelayMs(5_000, 40, () => 0.5)).toBe(900_000);
    expect(retryDelayMs(5_000, 40, () => 0.999999)).toBe(1_080_000);
  });
});

describe('unsignedXml', () => {
  it('removes exactly the DTE signature: the Documento (with its TED) is byte-identical and well-formed', () => {
    const fx = generateFixtures({ tipos: [33] });
    const cert = loadPkcs12(fx.p12, fx.p12Password);
    const cafs = fx.cafs.map((c) => parseCaf(c.xml));
    const dte = inputToDte(parseDteInput(doc33()), { folio: 7, fchEmis: new Date().toISOString().slice(0, 10) });
    const emitted = emitDte(dte, { cafs, signer: { rut: cert.rut, signingKey: cert.signingKey } });
    const unsigned = unsignedXml(emitted.xml);
    expect(unsigned).not.toMatch(/<Signature[\s>]/);
    expect(unsigned).toContain('<TED version="1.0">');
    const doc = (x: string) => x.slice(x.indexOf('<Documento'), x.indexOf('</Documento>') + '</Documento>'.length);
    expect(doc(unsigned)).toBe(doc(emitted.xml));
    const root = parseXml(unsigned).root;
    expect(root.local).toBe('DTE');
    expect(root.children.map((c) => (c as { local?: string }).local).filter((l) => l !== undefined)).toEqual(['Documento']);
    // Independent oracle: xmllint reads it as well-formed ISO-8859-1.
    const dir = mkdtempSync(join(tmpdir(), 'timbre-unsigned-'));
    try {
      writeFileSync(join(dir, 'u.xml'), toBytes(unsigned));
      expect(() => execFileSync('xmllint', ['--noout', join(dir, 'u.xml')], { stdio: 'pipe' })).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves a document without a signature unchanged', () => {
    const xml = '<?xml version="1.0" encoding="ISO-8859-1"?>\n<DTE version="1.0"><Documento ID="T33F1"/></DTE>';
    expect(unsignedXml(xml)).toBe(xml);
  });
});
