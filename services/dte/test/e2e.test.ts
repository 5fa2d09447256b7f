import { verifyXml } from '@timbre/dte';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OTHER_RUT, RUT, call, doc33, example, provision, setup, token, uploadCaf, type Ctx } from './helper.js';
import { PG_URL, pgSchema } from './infra.js';

const nextFolio = async (ctx: Ctx): Promise<number | undefined> => {
  const s = await call(ctx, 'GET', `/api/v1/dte/caf/status?rut_emisor=${RUT}`);
  return (s.json.tipos as Array<{ tipoDte: number; nextFolio?: number }>).find((t) => t.tipoDte === 33)?.nextFolio;
};
const countDtes = async (ctx: Ctx): Promise<number> => (await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&limit=500`)).json.items.length;

const databases: Array<{ name: string; make: () => Promise<{ opts: Parameters<typeof setup>[0]; drop(): Promise<void> } | undefined> }> = [
  { name: 'SQLite', make: async () => ({ opts: {}, drop: async () => {} }) },
  {
    name: 'PostgreSQL',
    make: async () => {
      const s = await pgSchema('test_dte_svc');
      return s && { opts: { databaseUrl: PG_URL, searchPath: s.schema }, drop: s.drop };
    },
  },
];

for (const database of databases) {
  describe(`DTE service end to end on ${database.name}`, () => {
    let ctx: Ctx;
    let dropDb: () => Promise<void> = async () => {};
    let skip = false;
    const secrets: string[] = [];
    const seen: string[] = [];
    const req = async (...args: Parameters<typeof call>) => {
      const r = await call(...args);
      seen.push(r.text);
      return r;
    };

    beforeAll(async () => {
      const made = await database.make();
      if (!made) {
        skip = true;
        return;
      }
      dropDb = made.drop;
      ctx = await setup({ ...made.opts, pipeline: { poll: false } }); // statuses move only by GET /status here
      secrets.push(ctx.fixtures.p12Password, ctx.fixtures.p12.toString('base64').slice(0, 40));
      await provision(ctx);
    });
    afterAll(async () => {
      if (ctx) await ctx.close();
      await dropDb();
    });

    it('issues a 33 with folio 1, sends it, and the status query moves it to accepted', async (t) => {
      if (skip) return t.skip();
      const r = await req(ctx, 'POST', '/api/v1/dte/generate', { body: doc33() });
      expect(r.status, r.text).toBe(200);
      expect(r.json).toMatchObject({ folio: 1, dte_type: '33', status: 'sent', sii_accepted: false, errors: [] });
      expect(r.json.sii_track_id).toMatch(/^\d+$/);
      expect(r.json.xml_signed).toContain('<Folio>1</Folio>');
      expect(r.json.ted).toContain('<TED');

      const s = await req(ctx, 'GET', `/api/v1/dte/status?track_id=${r.json.sii_track_id}&rut_emisor=${RUT}&dte_type=33&folio=1`);
      expect(s.status, s.text).toBe(200);
      expect(s.json).toMatchObject({ status: 'accepted', sii_status: 'EPR', final: true, folio: 1 });
      expect(typeof s.json.status_display).toBe('string');

      const one = await req(ctx, 'GET', `/api/v1/dte/${r.json.id}`);
      expect(one.json).toMatchObject({ id: r.json.id, status: 'accepted', folio: 1, sii_track_id: r.json.sii_track_id });

      const xml = await fetch(`${ctx.url}/api/v1/dte/${r.json.id}/xml`, { headers: { authorization: `Bearer ${ctx.admin}` } });
      expect(xml.status).toBe(200);
      expect(xml.headers.get('content-type')).toBe('application/xml; charset=ISO-8859-1');
      const bytes = Buffer.from(await xml.arrayBuffer());
      expect(bytes.includes(Buffer.from('ÑUÑOA', 'latin1'))).toBe(true); // Latin-1, not UTF-8
      expect(bytes.includes(Buffer.from('ÑUÑOA', 'utf8'))).toBe(false);
      const v = verifyXml(bytes);
      expect(v.errors).toEqual([]);
      expect(v.valid).toBe(true);
    });

    it('gives 20 parallel requests 20 distinct consecutive folios', async (t) => {
      if (skip) return t.skip();
      const before = await nextFolio(ctx);
      const results = await Promise.all(Array.from({ length: 20 }, () => call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33() })));
      for (const r of results) expect(r.status, r.text).toBe(200);
      const folios = results.map((r) => r.json.folio as number).sort((a, b) => a - b);
      expect(folios).toEqual(Array.from({ length: 20 }, (_, i) => (before as number) + i));
      expect(results.every((r) => r.json.status === 'sent')).toBe(true);
    });

    it('replays an Idempotency-Key and refuses it for another body', async (t) => {
      if (skip) return t.skip();
      const headers = { 'idempotency-key': `inv-${Math.random()}` };
      const first = await req(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), headers });
      expect(first.status, first.text).toBe(200);
      const folio = await nextFolio(ctx);
      const docs = await countDtes(ctx);

      const again = await req(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), headers });
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.json.folio).toBe(first.json.folio);
      expect(again.json.id).toBe(first.json.id);
      expect(await nextFolio(ctx)).toBe(folio);
      expect(await countDtes(ctx)).toBe(docs);

      const other = { ...doc33(), receptor: { ...(doc33().receptor as object), razon_social: 'OTRA EMPRESA' } };
      const conflict = await req(ctx, 'POST', '/api/v1/dte/generate', { body: other, headers });
      expect(conflict.status).toBe(409);
      expect(conflict.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(conflict.json.code).toBe('ERR_IDEMPOTENCY_CONFLICT');
      expect(await nextFolio(ctx)).toBe(folio);
    });

    it('refuses bad input with problem+json naming the field, writing nothing', async (t) => {
      if (skip) return t.skip();
      const folio = await nextFolio(ctx);
      const docs = await countDtes(ctx);
      const d = doc33();

      const badRut = await req(ctx, 'POST', '/api/v1/dte/generate', { body: { ...d, receptor: { ...(d.receptor as object), rut: '77894717-1' } } });
      expect(badRut.status).toBe(422);
      expect(badRut.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(badRut.json).toMatchObject({ status: 422, type: expect.any(String), title: expect.any(String), detail: expect.any(String) });
      expect(badRut.json.errors.map((e: { field: string }) => e.field)).toContain('receptor.rut');

      const badTotal = await req(ctx, 'POST', '/api/v1/dte/generate', { body: { ...d, totales: { ...(d.totales as object), monto_total: 1 } } });
      expect(badTotal.status).toBe(422);
      expect(badTotal.json.errors.some((e: { field: string; code: string }) => e.field === 'totales.monto_total' && e.code === 'ERR_TOTALS_MISMATCH')).toBe(true);

      const badType = await req(ctx, 'POST', '/api/v1/dte/generate', { body: { ...d, dte_type: '99' } });
      expect(badType.status).toBe(422);
      expect(badType.json.errors.map((e: { field: string }) => e.field)).toContain('dte_type');

      const malformed = await req(ctx, 'POST', '/api/v1/dte/generate', { raw: '{"dte_type": "33", ' });
      expect(malformed.status).toBe(400);
      expect(malformed.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(malformed.json.errors[0].field).toBe('body');

      expect(await nextFolio(ctx)).toBe(folio);
      expect(await countDtes(ctx)).toBe(docs);
    });

    it('answers 401 without a token and 403 for another company or type', async (t) => {
      if (skip) return t.skip();
      const folio = await nextFolio(ctx);
      const none = await req(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), token: null });
      expect(none.status).toBe(401);
      expect(none.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const garbage = await req(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}`, { token: 'not-a-jwt' });
      expect(garbage.status).toBe(401);

      const other = await token(ctx.jwtKey, [OTHER_RUT], ['dte:generate', 'dte:read']);
      const forbidden = await req(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), token: other });
      expect(forbidden.status).toBe(403);
      expect((await req(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}`, { token: other })).status).toBe(403);
      expect((await req(ctx, 'GET', '/api/v1/dte/1', { token: other })).status).toBe(404);

      const only61 = await token(ctx.jwtKey, [RUT], ['dte:generate'], [61]);
      expect((await req(ctx, 'POST', '/api/v1/dte/generate', { body: doc33(), token: only61 })).status).toBe(403);
      const readOnly = await token(ctx.jwtKey, [RUT], ['dte:read']);
      expect((await req(ctx, 'POST', '/api/v1/dte/certificate/upload', { body: { rut_company: RUT, p12_base64: 'AA==', password: 'x' }, token: readOnly })).status).toBe(403);
      expect(await nextFolio(ctx)).toBe(folio);
    });

    it('refuses a wrong certificate password without echoing secrets', async (t) => {
      if (skip) return t.skip();
      const r = await req(ctx, 'POST', '/api/v1/dte/certificate/upload', { body: { rut_company: RUT, p12_base64: ctx.fixtures.p12.toString('base64'), password: 'wrong-password-123' } });
      expect(r.status).toBe(422);
      expect(r.json.code).toBe('ERR_CERT_BAD_PASSWORD');
      expect(r.text).not.toContain('wrong-password-123');
    });

    it('lists, paginates and filters documents', async (t) => {
      if (skip) return t.skip();
      const p1 = await req(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&limit=5`);
      expect(p1.status).toBe(200);
      expect(p1.json.items).toHaveLength(5);
      expect(typeof p1.json.next_before).toBe('number');
      const p2 = await req(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&limit=5&before=${p1.json.next_before}`);
      expect(p2.json.items[0].id).toBeLessThan(p1.json.items[4].id);
      const accepted = await req(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&status=accepted`);
      expect(accepted.json.items.map((i: { folio: number }) => i.folio)).toEqual([1]);
      const bad = await req(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&status=bogus`);
      expect(bad.status).toBe(400);
      expect(bad.json.errors[0].field).toBe('status');
    });

    it('never shows a secret in any response', async (t) => {
      if (skip) return t.skip();
      const caf = await req(ctx, 'GET', `/api/v1/dte/caf/status?rut_emisor=${RUT}`);
      expect(caf.status).toBe(200);
      expect(seen.length).toBeGreaterThan(10);
      for (const body of seen) {
        expect(body).not.toContain('PRIVATE KEY');
        expect(body).not.toContain('RSASK');
        for (const s of secrets) expect(body).not.toContain(s);
      }
    });
  });

  describe(`every document type and 200 parallel folios on ${database.name}`, () => {
    let ctx: Ctx;
    let dropDb: () => Promise<void> = async () => {};
    let skip = false;

    beforeAll(async () => {
      const made = await database.make();
      if (!made) {
        skip = true;
        return;
      }
      dropDb = made.drop;
      ctx = await setup(made.opts);
      await provision(ctx, 300); // company, certificate, 33 CAF 1..300
      for (const tipo of [34, 39, 41, 43, 46, 52, 56, 61, 110, 111, 112]) await uploadCaf(ctx, tipo, 1, 10);
    });
    afterAll(async () => {
      if (ctx) await ctx.close();
      await dropDb();
    });

    /** The example of `tipo`, dated by the service; `ref` points its first reference at an issued document. */
    const body = (tipo: string, ref?: { folio: number; fecha: string }): Record<string, unknown> => {
      const d = example(tipo);
      delete d.fecha_emision;
      if (ref) {
        const refs = d.referencias as Array<Record<string, unknown>>;
        refs[0] = { ...refs[0], folio: ref.folio, fecha: ref.fecha };
      }
      return d;
    };

    /** Generate, then poll /status until the SII answer is final; returns both answers. */
    const issueAndSettle = async (tipo: string, ref?: { folio: number; fecha: string }) => {
      const g = await call(ctx, 'POST', '/api/v1/dte/generate', { body: body(tipo, ref) });
      expect(g.status, `${tipo}: ${g.text}`).toBe(200);
      expect(g.json).toMatchObject({ dte_type: tipo, folio: 1, status: 'sent', errors: [] });
      expect(g.json.sii_track_id, tipo).toMatch(/^\d+$/);
      expect(g.json.xml_signed).toContain(`<TipoDTE>${tipo}</TipoDTE>`);
      let s = await call(ctx, 'GET', `/api/v1/dte/status?rut_emisor=${RUT}&dte_type=${tipo}&folio=${g.json.folio}`);
      for (let i = 0; i < 50 && s.status === 200 && !s.json.final; i++) {
        await new Promise((r) => setTimeout(r, 100));
        s = await call(ctx, 'GET', `/api/v1/dte/status?rut_emisor=${RUT}&dte_type=${tipo}&folio=${g.json.folio}`);
      }
      expect(s.status, `${tipo}: ${s.text}`).toBe(200);
      expect(s.json, `${tipo}: ${s.text}`).toMatchObject({ final: true, status: 'accepted', folio: g.json.folio });
      const stored = await call(ctx, 'GET', `/api/v1/dte/${g.json.id}`);
      expect(stored.json).toMatchObject({ status: 'accepted', dte_type: tipo, folio: g.json.folio });
      return { folio: g.json.folio as number, fecha: g.json.fecha_emision as string };
    };

    it('issues every document type and the simulator accepts each one', async (t) => {
      if (skip) return t.skip();
      const f33 = await issueAndSettle('33');
      const f110 = await issueAndSettle('110');
      for (const tipo of ['34', '39', '41', '43', '46', '52']) await issueAndSettle(tipo);
      await issueAndSettle('56', f33);
      await issueAndSettle('61', f33);
      await issueAndSettle('111', f110);
      await issueAndSettle('112', f110);
      const list = await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&status=accepted&limit=500`);
      expect(list.json.items.map((i: { dte_type: string }) => i.dte_type).sort()).toEqual(['110', '111', '112', '33', '34', '39', '41', '43', '46', '52', '56', '61']);
    }, 30_000);

    it('gives 200 parallel 33s 200 distinct consecutive folios, stored once each', async (t) => {
      if (skip) return t.skip();
      const caf = await call(ctx, 'GET', `/api/v1/dte/caf/status?rut_emisor=${RUT}`);
      const start = (caf.json.tipos as Array<{ tipoDte: number; nextFolio?: number }>).find((x) => x.tipoDte === 33)?.nextFolio as number;
      expect(start).toBeGreaterThan(0);
      const results = await Promise.all(Array.from({ length: 200 }, () => call(ctx, 'POST', '/api/v1/dte/generate', { body: doc33() })));
      const failed = results.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`);
      expect(failed).toEqual([]);
      const expected = Array.from({ length: 200 }, (_, i) => start + i);
      const folios = results.map((r) => r.json.folio as number).sort((a, b) => a - b);
      expect(folios).toEqual(expected);
      expect(new Set(results.map((r) => r.json.id)).size).toBe(200);
      expect(results.every((r) => r.json.status === 'sent' && /^\d+$/.test(r.json.sii_track_id))).toBe(true);

      // The stored rows, read back page by page.
      const stored: Array<{ id: number; folio: number; status: string }> = [];
      let before: number | null = null;
      for (let page = 0; page < 20; page++) {
        const p = await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&dte_type=33&limit=37${before ? `&before=${before}` : ''}`);
        expect(p.status, p.text).toBe(200);
        stored.push(...p.json.items);
        before = p.json.next_before;
        if (!before) break;
      }
      const ours = stored.filter((i) => i.folio >= start);
      expect(ours.map((i) => i.folio).sort((a, b) => a - b)).toEqual(expected);
      expect(new Set(stored.map((i) => i.id)).size).toBe(stored.length);
      expect(ours.every((i) => i.status === 'sent' || i.status === 'accepted')).toBe(true); // the status poller may have moved them on
      const next = await call(ctx, 'GET', `/api/v1/dte/caf/status?rut_emisor=${RUT}`);
      expect((next.json.tipos as Array<{ tipoDte: number; nextFolio?: number }>).find((x) => x.tipoDte === 33)?.nextFolio).toBe(start + 200);
    }, 60_000);
  });
}
