/**
 * POST /api/v1/ai/reconcile over real HTTP (buildApp + listen): the happy path with a partial
 * delivery, a credit note, a vendor bill with a typed folio, the RCV, unmatched items; schema errors
 * (400), the reconciler's field errors (422) with the body's paths; auth (401/403).
 */
import { randomBytes } from 'node:crypto';
import { signToken, type Permission } from '@timbre/auth';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { request } from './http.js';

const COMPANY = '76086428-5';
const OTHER = '77894717-K';
const SUPPLIER = '96874030-K';
const jwtKey = new Uint8Array(randomBytes(32));
let app: FastifyInstance;
let url: string;
let user: string;

const token = (permissions: Permission[], companies = [COMPANY]): Promise<string> => signToken({ sub: 'test', companies, permissions }, jwtKey);

const post = (body: unknown, tok: string | null = user) => request(url, 'POST', '/api/v1/ai/reconcile', { token: tok, body });

const iva = (n: number) => Math.round(n * 0.19);
const factura = (folio: number, neto: number, extra: Record<string, unknown> = {}) => ({ tipo_dte: 33, folio, rut_emisor: '96.874.030-k', fecha_emision: '2026-03-10', monto_neto: neto, iva: iva(neto), monto_total: neto + iva(neto), ...extra });

function body() {
  const ref = [{ tipo_documento: 801, folio: 'OC-4500123' }];
  return {
    company_rut: '76.086.428-5',
    received: [
      factura(501, 400_000, { id: 'A', referencias: ref, items: [{ nombre: 'Cemento Polpaico saco 25 kg', cantidad: 40, precio_unitario: 10_000 }] }),
      factura(502, 600_000, { id: 'B', referencias: ref, fecha_emision: '2026-03-18' }),
      factura(777, 250_000, { id: 'C' }),
      factura(900, 80_000, { id: 'D' }),
      { id: 'NC', tipo_dte: 61, folio: 12, rut_emisor: SUPPLIER, fecha_emision: '2026-03-20', monto_total: 119_000, referencias: [{ tipo_documento: '33', folio: 502, codigo: 3 }] },
    ],
    expected: [
      { id: 'OC1', kind: 'purchase_order', rut_proveedor: '96874030k', fecha: '2026-03-01', numero: '4500123', monto_total: 1_190_000, lines: [{ descripcion: 'CEMENTO POLPAICO SACO 25KG' }] },
      { id: 'VB1', kind: 'vendor_bill', rut_proveedor: SUPPLIER, fecha: '2026-03-12', folio_factura: '787', monto_total: 250_000 + iva(250_000) + 1 },
      { id: 'VB2', kind: 'vendor_bill', rut_proveedor: SUPPLIER, fecha: '2026-03-12', folio_factura: '4444', monto_total: 5_000_000 },
    ],
    rcv: [
      { id: 'C501', rut_emisor: SUPPLIER, tipo_dte: 33, folio: 501, fecha_emision: '2026-03-10', monto_total: 476_000, estado: 'REGISTRO' },
      { id: 'C999', rut_emisor: SUPPLIER, tipo_dte: 33, folio: 999, fecha_emision: '2026-03-10', monto_total: 10 },
    ],
  };
}

beforeAll(async () => {
  app = await buildApp({ jwtKey });
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  user = await token(['ai:use']);
});
afterAll(async () => {
  await app.close();
});

describe('POST /api/v1/ai/reconcile', () => {
  it('200: partial delivery, credit note, typed folio, RCV and unmatched on each side, in snake_case', async () => {
    const r = await post(body());
    expect(r.status).toBe(200);
    const byId = Object.fromEntries(r.json.matches.map((m: { received: string }) => [m.received, m]));
    expect(byId.A).toMatchObject({ expected: ['OC1'], rcv: 'C501', kind: 'partial' });
    expect(byId.A.explanation).toMatch(/referencia 801 N° 4500123/);
    expect(byId.A.explanation).toMatch(/1\/1 líneas similares/);
    expect(byId.B).toMatchObject({ expected: ['OC1'], kind: 'partial', rcv: null });
    expect(byId.C).toMatchObject({ expected: ['VB1'], kind: 'fuzzy' });
    expect(byId.C.explanation).toMatch(/folio digitado 787 ≈ 777 \(error de digitación\)/);
    expect(byId.NC).toMatchObject({ kind: 'credit_note', adjusts: 'B', expected: ['OC1'] });
    expect(r.json.unmatched_received).toEqual([{ id: 'D', rcv: null, reason: expect.any(String) }]);
    expect(r.json.unmatched_expected.map((u: { id: string }) => u.id)).toEqual(['VB2']);
    expect(r.json.unmatched_rcv.map((u: { id: string }) => u.id)).toEqual(['C999']);
    expect(r.json.remaining).toEqual([{ purchase_order: 'OC1', numero: '4500123', monto_total: 1_190_000, facturado: 1_190_000, ajustes: -119_000, pendiente: 119_000, invoices: ['A', 'B'] }]);
  });

  it('options change the decision: a tight threshold leaves the typed folio unmatched', async () => {
    const r = await post({ ...body(), options: { threshold: 0.9 } });
    expect(r.status).toBe(200);
    expect(r.json.unmatched_expected.map((u: { id: string }) => u.id)).toContain('VB1');
  });

  it('400 naming the field: wrong types, missing fields, too many documents, an option out of range', async () => {
    const b = body();
    (b.received[1] as Record<string, unknown>).monto_total = 'mucho';
    const r = await post(b);
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(r.json).toMatchObject({ code: 'ERR_BAD_REQUEST', errors: [{ field: 'received.1.monto_total' }] });
    const { company_rut: _c, ...noCompany } = body();
    expect((await post(noCompany)).status).toBe(400);
    const many = Array.from({ length: 2001 }, (_, k) => factura(k + 1, 1000));
    const r2 = await post({ ...body(), received: many });
    expect(r2.status).toBe(400);
    expect(r2.json.errors[0].field).toBe('received');
    const r3 = await post({ ...body(), options: { threshold: 2 } });
    expect(r3.status).toBe(400);
    expect(r3.json.errors[0].field).toBe('options.threshold');
  });

  it("422 naming the field as the body spells it: a date that does not exist, text that is no RUT, a duplicate id", async () => {
    const b = body();
    (b.received[3] as Record<string, unknown>).fecha_emision = '2026-02-30';
    const r = await post(b);
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ code: 'ERR_INPUT_INVALID', errors: [{ field: 'received.3.fecha_emision', code: 'ERR_INPUT_INVALID' }] });
    const b2 = body();
    (b2.expected[1] as Record<string, unknown>).rut_proveedor = 'sin RUT';
    const r2 = await post(b2);
    expect(r2.status).toBe(422);
    expect(r2.json).toMatchObject({ code: 'ERR_RUT_INVALID', errors: [{ field: 'expected.1.rut_proveedor' }] });
    const b3 = body();
    (b3.expected[2] as Record<string, unknown>).id = 'VB1';
    expect((await post(b3)).json.errors[0].field).toBe('expected.2.id');
    expect((await post({ ...body(), company_rut: '76086428-4' })).json).toMatchObject({ status: 422, errors: [{ field: 'company_rut' }] });
  });

  it('401 without a token (before the body is validated), 403 without ai:use or for another company', async () => {
    const r = await post({ nonsense: true }, null);
    expect(r.status).toBe(401);
    expect(r.json.code).toBe('ERR_AUTH_MISSING');
    expect((await post(body(), await token(['dte:read']))).json).toMatchObject({ status: 403, code: 'ERR_AUTH_FORBIDDEN' });
    expect((await post(body(), await token(['ai:use'], [OTHER]))).status).toBe(403);
    expect((await post(body(), await token(['admin']))).status).toBe(200);
  });
});
