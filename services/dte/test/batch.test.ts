/**
 * Batches over real HTTP with the embedded queue (the service's own database) on SQLite: 202 at
 * once, folios in the batch's order, envelopes of `envelopeSize`, boletas apart, refused documents
 * reported one by one, the poller taking everything to accepted, each document in exactly one envío.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUT, call, doc33, example, provision, setup, uploadCaf, type Ctx } from './helper.js';
import { simDocuments, waitBatch } from './batch-helper.js';

describe('batches on the embedded queue (SQLite)', () => {
  let ctx: Ctx;
  beforeAll(async () => {
    ctx = await setup({
      config: { batch: { envelopeSize: 20 } },
      pipeline: { recoveryIntervalMs: false, poll: { intervalMs: 100, baseMs: 100, maxMs: 500, batch: 500, perCompany: 50 } },
    });
    await provision(ctx, 200);
    await uploadCaf(ctx, 39, 1, 100);
  });
  afterAll(async () => ctx.close());

  it('50 facturas + 5 boletas: 202 at once, consecutive folios in order, 3 + 1 envelopes, all accepted, each in one envío', async () => {
    const boleta = example('39');
    delete boleta.fecha_emision;
    const documents = [...Array.from({ length: 50 }, () => doc33()), ...Array.from({ length: 5 }, () => boleta)];
    const r = await call(ctx, 'POST', '/api/v1/dte/batch', { body: { documents } });
    expect(r.status, r.text).toBe(202);
    expect(r.json).toMatchObject({ total: 55, accepted: 55, refused: [] });
    expect(r.headers.get('location')).toBe(`/api/v1/dte/batch/${r.json.batch_id}`);

    const done = await waitBatch(ctx, r.json.batch_id as string, (p) => p.documents.every((d) => d.status === 'accepted'));
    expect(done.status).toBe('done');
    expect(done.documents.filter((d) => d.dte_type === '33').map((d) => d.folio)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(done.documents.filter((d) => d.dte_type === '39').map((d) => d.folio)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(done.documents.filter((d) => d.dte_type === '33').map((d) => d.sii_track_id)).size).toBe(3);

    const seen = await simDocuments(ctx.simUrl);
    expect(seen.envios.filter((e) => e.tipos.includes(33)).map((e) => e.documents).sort()).toEqual([10, 20, 20]);
    expect(seen.envios.filter((e) => e.tipos.includes(39))).toHaveLength(1);
    expect(seen.envios.every((e) => e.tipos.length === 1)).toBe(true); // boletas never share an envelope with facturas
    expect(seen.duplicates).toEqual([]);
    expect(seen.count.get(`33/50`)).toBe(1);
  });

  it('refuses invalid documents one by one, and sends the rest', async () => {
    const bad = doc33();
    (bad.receptor as Record<string, unknown>).rut = '77894717-0';
    const r = await call(ctx, 'POST', '/api/v1/dte/batch', { body: { documents: [doc33(), bad, doc33(), { dte_type: '99' }] } });
    expect(r.status, r.text).toBe(202);
    expect(r.json).toMatchObject({ total: 4, accepted: 2 });
    expect(r.json.refused).toEqual([
      expect.objectContaining({ index: 1, code: 'ERR_INPUT_INVALID', field: 'receptor.rut', message: expect.stringMatching(/check digit/) }),
      expect.objectContaining({ index: 3, field: expect.any(String) }),
    ]);
    const done = await waitBatch(ctx, r.json.batch_id as string, (p) => p.done === p.total);
    expect(done.documents.map((d) => d.status === 'refused')).toEqual([false, true, false, true]);
    expect(done.documents[1]?.error_message).toMatch(/receptor\.rut/);
    expect(done.documents[0]?.folio).toBe(51);
    expect(done.documents[2]?.folio).toBe(52);
  });

  it('422 naming documents[i] when nothing is valid; 400 for an empty or oversized list; 404 for an unknown batch', async () => {
    const none = await call(ctx, 'POST', '/api/v1/dte/batch', { body: { documents: [{ dte_type: '33', emisor: { rut: RUT } }] } });
    expect(none.status).toBe(422);
    expect(none.json.errors[0].field).toMatch(/^documents\[0\]/);
    expect((await call(ctx, 'POST', '/api/v1/dte/batch', { body: { documents: [] } })).status).toBe(400);
    const tooMany = await call(ctx, 'POST', '/api/v1/dte/batch', { body: { documents: Array.from({ length: 5001 }, () => ({})) } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.errors[0].field).toBe('documents');
    expect((await call(ctx, 'GET', '/api/v1/dte/batch/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    // Nothing was allocated by the refused requests.
    const list = await call(ctx, 'GET', `/api/v1/dte?rut_emisor=${RUT}&dte_type=33&limit=1`);
    expect(list.json.items[0].folio).toBe(52);
  });
});
