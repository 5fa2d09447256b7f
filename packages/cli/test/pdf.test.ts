/**
 * `timbre pdf`: signed documents built by `timbre dte build`, printed, and judged by poppler
 * (pdfinfo, pdftotext, pdfimages).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { samplePng } from '@timbre/pdf';
import { examplesDir, mustTimbre, timbre, tmpDir, tool } from './helpers.js';

const NOW = '2026-11-27T10:15:00';
const MM = 72 / 25.4;
let fx: string;
let out: string;
const built = new Map<string, string>();


const info = (file: string) => {
  const r = tool('pdfinfo', [file]);
  expect(r.status, r.out).toBe(0);
  const size = /Page size:\s+([\d.]+) x ([\d.]+) pts/.exec(r.out);
  return { pages: Number(/Pages:\s+(\d+)/.exec(r.out)?.[1]), width: Number(size?.[1]), height: Number(size?.[2]), raw: r.out };
};
const text = (file: string) => tool('pdftotext', ['-layout', file, '-']).out;
const images = (file: string) => tool('pdfimages', ['-list', file]).out.trim().split('\n').slice(2).filter((l) => l.trim() !== '');
const pdfOut = (name: string) => path.join(out, name);

beforeAll(() => {
  fx = tmpDir('timbre-pdf-fx-');
  out = tmpDir('timbre-pdf-out-');
  mustTimbre(['fixtures', fx, '--tipos', '33,52,61', '--folios', '1:5000']);
  const cert = ['--cert', path.join(fx, 'cert.p12'), '--cert-password', 'timbre'];
  for (const [tipo, folio] of [['33', '4242'], ['52', '77'], ['61', '5']] as const) {
    const file = path.join(out, `${tipo}.xml`);
    mustTimbre(['dte', 'build', path.join(examplesDir, `${tipo}.json`), ...cert, '--caf', path.join(fx, 'caf', `${tipo}.xml`), '--folio', folio, '--now', NOW, '-o', file]);
    built.set(tipo, file);
  }
});

describe('timbre pdf', () => {
  it('prints a 33 on one letter page with its name and folio', () => {
    const o = pdfOut('33.pdf');
    const r = timbre(['pdf', built.get('33') as string, '-o', o]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(o);
    const i = info(o);
    expect(i.pages).toBe(1);
    expect(i.raw).toMatch(/\(letter\)/);
    const t = text(o);
    expect(t).toMatch(/FACTURA\s+ELECTR[OÓ]NICA/i);
    expect(t).toContain('4242');
  });

  it('--format a4 and thermal (80 mm), --cedible adds the cedible copy', () => {
    expect(timbre(['pdf', built.get('33') as string, '--format', 'a4', '-o', pdfOut('a4.pdf')]).status).toBe(0);
    expect(info(pdfOut('a4.pdf')).width).toBeCloseTo(595.28, 0);
    expect(timbre(['pdf', built.get('33') as string, '--format', 'thermal', '-o', pdfOut('th.pdf')]).status).toBe(0);
    expect(info(pdfOut('th.pdf')).width).toBeCloseTo(80 * MM, 0);
    expect(timbre(['pdf', built.get('33') as string, '--cedible', '-o', pdfOut('ced.pdf')]).status).toBe(0);
    expect(info(pdfOut('ced.pdf')).pages).toBe(2);
    expect(text(pdfOut('ced.pdf'))).toMatch(/CEDIBLE/);
    const g = timbre(['pdf', built.get('52') as string, '--cedible', '-o', pdfOut('52.pdf')]);
    expect(g.status, g.stderr).toBe(0);
    expect(info(pdfOut('52.pdf')).pages).toBe(2);
    expect(text(pdfOut('52.pdf'))).toMatch(/GU[IÍ]A\s+DE\s+DESPACHO/i);
  });

  it('--logo adds the image, --resolution is printed', () => {
    const logo = path.join(out, 'logo.png');
    writeFileSync(logo, samplePng(48, 24));
    expect(timbre(['pdf', built.get('33') as string, '-o', pdfOut('plain.pdf')]).status).toBe(0);
    const r = timbre(['pdf', built.get('33') as string, '--logo', logo, '--resolution', '80:2014-08-22', '-o', pdfOut('logo.pdf')]);
    expect(r.status, r.stderr).toBe(0);
    const rows = images(pdfOut('logo.pdf'));
    expect(rows.length).toBe(images(pdfOut('plain.pdf')).length + 1);
    expect(rows.some((l) => /\b48\s+24\b/.test(l))).toBe(true);
    const t = text(pdfOut('logo.pdf'));
    expect(t).toMatch(/\b80\b/);
    expect(t).toMatch(/2014/);
  });

  it('usage and input errors exit 2 with a clear message', () => {
    const file = built.get('33') as string;
    const missing = timbre(['pdf', path.join(out, 'nope.xml'), '-o', pdfOut('x.pdf')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nope\.xml/);

    const notDte = path.join(out, 'not-dte.xml');
    writeFileSync(notDte, '<?xml version="1.0"?><Factura><Folio>1</Folio></Factura>');
    const nd = timbre(['pdf', notDte, '-o', pdfOut('x.pdf')]);
    expect(nd.status).toBe(2);
    expect(nd.stderr).toMatch(/no DTE/);
    const caf = timbre(['pdf', path.join(fx, 'caf', '33.xml'), '-o', pdfOut('x.pdf')]);
    expect(caf.status).toBe(2);

    const broken = path.join(out, 'broken.xml');
    writeFileSync(broken, '<DTE><Documento>');
    expect(timbre(['pdf', broken, '-o', pdfOut('x.pdf')]).status).toBe(2);

    const ced61 = timbre(['pdf', built.get('61') as string, '--cedible', '-o', pdfOut('x.pdf')]);
    expect(ced61.status).toBe(2);
    expect(ced61.stderr).toMatch(/cedible/);

    const gif = path.join(out, 'logo.gif');
    writeFileSync(gif, Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1'));
    const badLogo = timbre(['pdf', file, '--logo', gif, '-o', pdfOut('x.pdf')]);
    expect(badLogo.status).toBe(2);
    expect(badLogo.stderr).toMatch(/--logo/);

    const fmt = timbre(['pdf', file, '--format', 'legal', '-o', pdfOut('x.pdf')]);
    expect(fmt.status).toBe(2);
    expect(fmt.stderr).toMatch(/--format/);
    const res = timbre(['pdf', file, '--resolution', '80-2014', '-o', pdfOut('x.pdf')]);
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/--resolution/);
    expect(timbre(['pdf', file]).status).toBe(2); // -o is required
  });
});
