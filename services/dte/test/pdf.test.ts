/**
 * The printed representation over real HTTP: GET /api/v1/dte/{id}/pdf, `pdf_content` of generate
 * (also on a replay), and the company logo — judged by poppler (pdfinfo, pdftotext, pdfimages).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertDte } from '@timbre/store';
import { samplePng } from '@timbre/pdf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTHER_RUT, RUT, call, doc33, example, provision, setup, token, uploadCaf, type Ctx } from './helper.js';
import { PG_URL, pgSchema } from './infra.js';

const GIF = Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.from([1, 0, 1, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3b])]);

// ---- poppler ----
const work = mkdtempSync(join(tmpdir(), 'timbre-pdf-svc-'));
let n = 0;
const poppler = (cmd: string, pdf: Buffer, extra: string[] = []): string => {
  const file = join(work, `${++n}.pdf`);
  writeFileSync(file, pdf);
  const r = spawnSync(cmd, [...extra, file, ...(cmd === 'pdftotext' ? ['-'] : [])], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.status} ${r.stderr}`);
  return r.stdout;
};
const info = (pdf: Buffer) => {
  const out = poppler('pdfinfo', pdf);
  const size = /Page size:\s+([\d.]+) x ([\d.]+) pts/.exec(out);
  return { pages: Number(/Pages:\s+(\d+)/.exec(out)?.[1]), width: Number(size?.[1]), height: Number(size?.[2]), raw: out };
};
const text = (pdf: Buffer) => poppler('pdftotext', pdf, ['-layout']);
/** Rows of `pdfimages -list` (after its two header lines). */
const images = (pdf: Buffer) => poppler('pdfimages', pdf, ['-list']).trim().split('\n').slice(2).filter((l) => l.trim() !== '');
const MM = 72 / 25.4;

/** GET with the raw bytes of the answer. */
async function get(ctx: Ctx, path: string, tok: string | null = ctx.admin) {
  const res = await fetch(`${ctx.url}${path}`, { headers: tok === null ? {} : { authorization: `Bearer ${tok}` } });
  const body = Buffer.from(await res.arrayBuffer());
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body, json };
}

async function putLogo(ctx: Ctx, rut: string, bytes: Buffer, contentType: string, tok: string | null = ctx.admin) {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (tok !== null) headers.authorization = `Bearer ${tok}`;
  const res = await fetch(`${ctx.url}/api/v1/companies/${rut}/logo`, { method: 'PUT', headers, body: bytes });
  const t = await res.text();
  let json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  try {
    json = JSON.parse(t);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text: t, json };
}

const isPdf = (b: Buffer) => b.subarray(0, 5).toString('latin1') === '%PDF-';
const expectProblem = (r: { status: number; headers: Headers; json: any }, status: number, field?: string) => { // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(r.status, JSON.stringify(r.json)).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(r.json.status).toBe(status);
  expect(typeof r.json.code).toBe('string');
  if (field !== undefined) expect(r.json.errors.map((e: { field: string }) => e.field)).toContain(field);
};

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('PDF on SQLite', () => {
  let ctx: Ctx;
  let f33: { id: number; folio: number; fecha: string };
  let f52: { id: number; folio: number };
  let f61: { id: number; folio: number };

  beforeAll(async () => {
    ctx = await setup({ pipeline: { poll: false, recoveryIntervalMs: false } });
    await provision(ctx); // company, certificate, 33 CAF 1..100
    await uploadCaf(ctx, 52, 4711, 4720);
    await uploadCaf(ctx, 61, 1, 10);
    const g33 = await call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33() });
    expect(g33.status, g33.text).toBe(200);
    expect(g33.json.pdf_content).toBeUndefined(); // not asked for
    f33 = { id: g33.json.id, folio: g33.json.folio, fecha: g33.json.fecha_emision };
    const d52 = example('52');
    delete d52.fecha_emision;
    const g52 = await call(ctx, 'POST', '/api/v1/dte/generate', { body: d52 });
    expect(g52.status, g52.text).toBe(200);
    f52 = { id: g52.json.id, folio: g52.json.folio };
    expect(f52.folio).toBe(4711);
    const d61 = example('61');
    delete d61.fecha_emision;
    const refs = d61.referencias as Array<Record<string, unknown>>;
    refs[0] = { ...refs[0], folio: f33.folio, fecha: f33.fecha };
    const g61 = await call(ctx, 'POST', '/api/v1/dte/generate', { body: d61 });
    expect(g61.status, g61.text).toBe(200);
    f61 = { id: g61.json.id, folio: g61.json.folio };
  }, 60_000);
  afterAll(async () => {
    if (ctx) await ctx.close();
  });

  it('GET /pdf of a 33: letter, one page, inline T33F<folio>.pdf, with the folio and the document name', async () => {
    const r = await get(ctx, `/api/v1/dte/${f33.id}/pdf`);
    expect(r.status, r.body.toString('utf8').slice(0, 500)).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(r.headers.get('content-disposition')).toBe(`inline; filename="T33F${f33.folio}.pdf"`);
    expect(isPdf(r.body)).toBe(true);
    const i = info(r.body);
    expect(i.pages).toBe(1);
    expect(i.raw).toMatch(/\(letter\)/);
    expect(i.width).toBeCloseTo(612, 0);
    expect(i.height).toBeCloseTo(792, 0);
    const t = text(r.body);
    expect(t).toMatch(/FACTURA\s+ELECTR[OÓ]NICA/i);
    expect(t).toMatch(new RegExp(`N[°º]?\\s*:?\\s*0*${f33.folio}\\b`));
    expect(t).toMatch(/76\.?086\.?428-5/); // the issuer's RUT
  });

  it('cedible=true adds the cedible copy (2 pages); a4 and thermal change the paper', async () => {
    const ced = await get(ctx, `/api/v1/dte/${f33.id}/pdf?cedible=true`);
    expect(ced.status).toBe(200);
    expect(info(ced.body).pages).toBe(2);
    expect(text(ced.body)).toMatch(/CEDIBLE/);

    const a4 = await get(ctx, `/api/v1/dte/${f33.id}/pdf?format=a4`);
    expect(a4.status).toBe(200);
    const ia4 = info(a4.body);
    expect(ia4.width).toBeCloseTo(595.28, 0);
    expect(ia4.height).toBeCloseTo(841.89, 0);

    const th = await get(ctx, `/api/v1/dte/${f33.id}/pdf?format=thermal`);
    expect(th.status).toBe(200);
    expect(isPdf(th.body)).toBe(true);
    expect(info(th.body).width).toBeCloseTo(80 * MM, 0);
  });

  it('a 52 (guía de despacho): one page, its name and folio; cedible → 2 pages', async () => {
    const r = await get(ctx, `/api/v1/dte/${f52.id}/pdf`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toBe(`inline; filename="T52F${f52.folio}.pdf"`);
    expect(info(r.body).pages).toBe(1);
    const t = text(r.body);
    expect(t).toMatch(/GU[IÍ]A\s+DE\s+DESPACHO/i);
    expect(t).toContain(String(f52.folio));
    const ced = await get(ctx, `/api/v1/dte/${f52.id}/pdf?cedible=true`);
    expect(ced.status).toBe(200);
    expect(info(ced.body).pages).toBe(2);
  });

  it('refuses bad requests with problem+json naming the field', async () => {
    expectProblem(await get(ctx, `/api/v1/dte/${f33.id}/pdf`, null), 401);
    expectProblem(await get(ctx, `/api/v1/dte/${f33.id}/pdf?format=legal`), 400, 'format');
    expectProblem(await get(ctx, `/api/v1/dte/${f33.id}/pdf?cedible=maybe`), 400, 'cedible');
    expectProblem(await get(ctx, `/api/v1/dte/${f61.id}/pdf?cedible=true`), 422, 'cedible');
    expectProblem(await get(ctx, '/api/v1/dte/999999/pdf'), 404);
    expectProblem(await get(ctx, '/api/v1/dte/abc/pdf'), 400, 'id');
    // Another company's reader: the document is not revealed (404, as /xml); no dte:read → 403.
    expectProblem(await get(ctx, `/api/v1/dte/${f33.id}/pdf`, await token(ctx.jwtKey, [OTHER_RUT], ['dte:read'])), 404);
    expectProblem(await get(ctx, `/api/v1/dte/${f33.id}/pdf`, await token(ctx.jwtKey, [RUT], ['dte:generate'])), 403);
    // A reader of the company gets it.
    const reader = await get(ctx, `/api/v1/dte/${f61.id}/pdf`, await token(ctx.jwtKey, [RUT], ['dte:read']));
    expect(reader.status).toBe(200);
    expect(isPdf(reader.body)).toBe(true);
  });

  it('a document not signed yet → 409 ERR_DTE_NOT_SIGNED', async () => {
    const row = await insertDte(ctx.app.db, { rutEmisor: RUT, tipoDte: 33, folio: 100, status: 'draft' });
    const r = await get(ctx, `/api/v1/dte/${row.id}/pdf`);
    expectProblem(r, 409);
    expect(r.json).toMatchObject({ code: 'ERR_DTE_NOT_SIGNED', id: row.id, dte_status: 'draft' });
    await ctx.app.db.deleteFrom('dte').where('id', '=', row.id).execute();
  });

  it('generate?pdf=thermal answers pdf_content, and so does the replay with the same Idempotency-Key', async () => {
    const headers = { 'idempotency-key': 'pdf-replay-1' };
    const first = await call(ctx, 'POST', '/api/v1/dte/generate?pdf=thermal', { body: doc33(), headers });
    expect(first.status, first.text).toBe(200);
    expect(first.json.errors).toEqual([]);
    const pdf = Buffer.from(first.json.pdf_content as string, 'base64');
    expect(isPdf(pdf)).toBe(true);
    expect(info(pdf).width).toBeCloseTo(80 * MM, 0);
    expect(text(pdf)).toContain(String(first.json.folio));

    const again = await call(ctx, 'POST', '/api/v1/dte/generate?pdf=thermal', { body: doc33(), headers });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json.id).toBe(first.json.id);
    expect(isPdf(Buffer.from(again.json.pdf_content as string, 'base64'))).toBe(true);

    // The query is not part of the request: without it (or with another format) the same key replays.
    const plain = await call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), headers });
    expect(plain.status).toBe(200);
    expect(plain.json.id).toBe(first.json.id);
    expect(plain.json.pdf_content).toBeUndefined();
    const letter = await call(ctx, 'POST', '/api/v1/dte/generate?pdf=letter&cedible=true', { body: doc33(), headers });
    expect(letter.status).toBe(200);
    expect(letter.json.id).toBe(first.json.id);
    expect(info(Buffer.from(letter.json.pdf_content as string, 'base64')).pages).toBe(2);
  });

  it('generate refuses a bad pdf query before any folio is spent; error answers carry no pdf_content', async () => {
    const next = async () => ((await call(ctx, 'GET', `/api/v1/dte/caf/status?rut_emisor=${RUT}`)).json.tipos as Array<{ tipoDte: number; nextFolio?: number }>).find((t) => t.tipoDte === 61)?.nextFolio;
    const before = await next();
    const d61 = example('61');
    delete d61.fecha_emision;
    const refs = d61.referencias as Array<Record<string, unknown>>;
    refs[0] = { ...refs[0], folio: f33.folio, fecha: f33.fecha };
    const bad = await call(ctx, 'POST', '/api/v1/dte/generate?pdf=legal', { body: d61 });
    expectProblem(bad, 400, 'pdf');
    const cedibleAlone = await call(ctx, 'POST', '/api/v1/dte/generate?cedible=true', { body: d61 });
    expectProblem(cedibleAlone, 400, 'cedible');
    const ced61 = await call(ctx, 'POST', '/api/v1/dte/generate?pdf=letter&cedible=true', { body: d61 });
    expectProblem(ced61, 422, 'cedible');
    const invalid = await call(ctx, 'POST', '/api/v1/dte/generate?pdf=letter', { body: { ...doc33(), dte_type: '99' } });
    expect(invalid.status).toBe(422);
    expect(invalid.json.pdf_content).toBeUndefined();
    expect(await next()).toBe(before);
  });

  it('logo: PUT a PNG → the PDF carries one more image; DELETE → back; the logo is never required', async () => {
    const without = images((await get(ctx, `/api/v1/dte/${f33.id}/pdf`)).body).length;
    const logo = samplePng(64, 32);
    const up = await putLogo(ctx, RUT, logo, 'image/png');
    expect(up.status, up.text).toBe(200);
    expect(up.json).toEqual({ rut: RUT, logo_type: 'image/png', size: logo.length });

    const withLogo = await get(ctx, `/api/v1/dte/${f33.id}/pdf`);
    expect(withLogo.status).toBe(200);
    const rows = images(withLogo.body);
    expect(rows.length).toBe(without + 1);
    expect(rows.some((l) => /\b64\s+32\b/.test(l))).toBe(true); // the 64×32 logo
    // generate's pdf_content has it too
    const g = await call(ctx, 'POST', '/api/v1/dte/generate?pdf=a4', { body: doc33() });
    expect(g.status).toBe(200);
    expect(images(Buffer.from(g.json.pdf_content as string, 'base64')).length).toBe(without + 1);

    const del = await fetch(`${ctx.url}/api/v1/companies/${RUT}/logo`, { method: 'DELETE', headers: { authorization: `Bearer ${ctx.admin}` } });
    expect(del.status).toBe(204);
    expect(images((await get(ctx, `/api/v1/dte/${f33.id}/pdf`)).body).length).toBe(without);
    const delAgain = await fetch(`${ctx.url}/api/v1/companies/${RUT}/logo`, { method: 'DELETE', headers: { authorization: `Bearer ${ctx.admin}` } });
    expect(delAgain.status).toBe(204);
  });

  it('logo: refuses GIF, mislabelled bytes, 600 KB, JSON, strangers and unknown companies', async () => {
    expectProblem(await putLogo(ctx, RUT, GIF, 'image/gif'), 415, 'body');
    expectProblem(await putLogo(ctx, RUT, GIF, 'image/png'), 422, 'body');
    expectProblem(await putLogo(ctx, RUT, samplePng(4, 4), 'image/jpeg'), 422, 'body'); // a PNG is not a JPEG
    expectProblem(await putLogo(ctx, RUT, Buffer.alloc(0), 'image/png'), 422, 'body');
    const big = Buffer.concat([samplePng(4, 4), Buffer.alloc(600 * 1024)]);
    expectProblem(await putLogo(ctx, RUT, big, 'image/png'), 413, 'body');
    expectProblem(await putLogo(ctx, RUT, Buffer.from('{"logo":"x"}'), 'application/json'), 415, 'body');
    expectProblem(await putLogo(ctx, RUT, samplePng(4, 4), 'image/png', null), 401);
    expectProblem(await putLogo(ctx, RUT, samplePng(4, 4), 'image/png', await token(ctx.jwtKey, [RUT], ['dte:read'])), 403);
    expectProblem(await putLogo(ctx, RUT, samplePng(4, 4), 'image/png', await token(ctx.jwtKey, [OTHER_RUT], ['cert:manage'])), 403);
    expectProblem(await putLogo(ctx, 'not-a-rut', samplePng(4, 4), 'image/png'), 400, 'rut');
    const stranger = await token(ctx.jwtKey, [OTHER_RUT], ['cert:manage']);
    expectProblem(await putLogo(ctx, OTHER_RUT, samplePng(4, 4), 'image/png', stranger), 404); // not registered
    // Images are taken by the logo route only.
    const gen = await fetch(`${ctx.url}/api/v1/dte/generate`, { method: 'POST', headers: { authorization: `Bearer ${ctx.admin}`, 'content-type': 'image/png' }, body: samplePng(4, 4) });
    expect(gen.status).toBe(415);
    // Nothing was stored by the refusals.
    const row = await ctx.app.db.selectFrom('company').select(['logo_type']).where('rut', '=', RUT).executeTakeFirstOrThrow();
    expect(row.logo_type).toBeNull();
  });

  it('OpenAPI documents the PDF route as application/pdf, pdf_content and the logo route', async () => {
    const spec = (await ctx.app.inject({ url: '/docs/json' })).json();
    expect(Object.keys(spec.paths['/api/v1/dte/{id}/pdf'].get.responses['200'].content)).toEqual(['application/pdf']);
    expect(spec.paths['/api/v1/dte/generate'].post.responses['200'].content['application/json'].schema.properties.pdf_content.type).toBe('string');
    expect(Object.keys(spec.paths['/api/v1/companies/{rut}/logo'].put.requestBody.content).sort()).toEqual(['image/jpeg', 'image/png']);
  });
});

describe('PDF on PostgreSQL', () => {
  let ctx: Ctx | undefined;
  let drop: () => Promise<void> = async () => {};

  beforeAll(async () => {
    const s = await pgSchema('test_pdf_svc');
    if (!s) return;
    drop = s.drop;
    ctx = await setup({ databaseUrl: PG_URL, searchPath: s.schema, pipeline: { poll: false, recoveryIntervalMs: false } });
    await provision(ctx);
  }, 60_000);
  afterAll(async () => {
    if (ctx) await ctx.close();
    await drop();
  });

  it('generate?pdf=letter, GET /pdf, and a logo stored as bytea', async (t) => {
    if (!ctx) return t.skip();
    const g = await call(ctx, 'POST', '/api/v1/dte/generate?pdf=letter', { body: doc33() });
    expect(g.status, g.text).toBe(200);
    const fromGenerate = Buffer.from(g.json.pdf_content as string, 'base64');
    expect(info(fromGenerate).pages).toBe(1);
    const without = images(fromGenerate).length;
    const logo = samplePng(40, 20);
    expect((await putLogo(ctx, RUT, logo, 'image/png')).status).toBe(200);
    const stored = await ctx.app.db.selectFrom('company').select(['logo']).where('rut', '=', RUT).executeTakeFirstOrThrow();
    expect(Buffer.compare(stored.logo as Buffer, logo)).toBe(0);
    const r = await get(ctx, `/api/v1/dte/${g.json.id}/pdf`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(images(r.body).length).toBe(without + 1);
    const ced = await get(ctx, `/api/v1/dte/${g.json.id}/pdf?cedible=true`);
    expect(info(ced.body).pages).toBe(2);
  });
});
