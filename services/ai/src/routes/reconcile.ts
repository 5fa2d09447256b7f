/**
 * `POST /api/v1/ai/reconcile`: received DTEs against the company's expected ERP documents (purchase
 * orders, goods receipts, vendor bills) and its RCV entries, with an explanation per match. The work
 * is @timbre/reconcile's `reconcile` (pure, deterministic): this route maps the snake_case body onto
 * it, its answer back to snake_case, and its errors' fields to the body's paths.
 *
 * Errors: what JSON Schema can state (types, required fields, list sizes, date shape) → 400
 * ERR_BAD_REQUEST; what only the reconciler judges (dates that do not exist, text that is no RUT,
 * duplicate ids) → 422 ERR_INPUT_INVALID / ERR_RUT_INVALID naming the field (`received.3.fecha_emision`).
 */
import { Rut, TimbreError } from '@timbre/dte';
import { reconcile, type ExpectedDoc, type ReceivedDte, type RcvEntry, type ReconcileOptions, type ReconcileResult } from '@timbre/reconcile';
import type { FastifyPluginAsync } from 'fastify';
import { FieldError, errorResponses } from '../problems.js';

/** Per list. The reconciler is bounded well above this (2,000 × 2,000 of one supplier: ~3 s). */
export const MAX_DOCUMENTS = 2000;

const date = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', examples: ['2026-03-10'] } as const;
const rut = { type: 'string', minLength: 3, maxLength: 20, description: 'RUT in any usual form (`76.086.428-5`, `760864285`, `k`)' } as const;
const amount = { type: 'number', minimum: 0 } as const;
const numOrStr = { anyOf: [{ type: 'string', maxLength: 40 }, { type: 'integer' }] } as const;
const id = { type: 'string', minLength: 1, maxLength: 100 } as const;

const receivedSchema = {
  type: 'object',
  required: ['tipo_dte', 'folio', 'rut_emisor', 'fecha_emision', 'monto_total'],
  properties: {
    id: { ...id, description: 'Default `<rut_emisor>-<tipo_dte>-<folio>`' },
    tipo_dte: { type: 'integer', enum: [33, 34, 46, 52, 56, 61] },
    folio: { type: 'integer', minimum: 1 },
    rut_emisor: rut,
    razon_social: { type: 'string', maxLength: 200 },
    fecha_emision: date,
    monto_neto: amount,
    monto_exento: amount,
    iva: amount,
    monto_total: amount,
    items: {
      type: 'array',
      maxItems: 500,
      items: { type: 'object', required: ['nombre'], properties: { nombre: { type: 'string', maxLength: 1000 }, cantidad: { type: 'number' }, precio_unitario: { type: 'number' }, monto_item: { type: 'number' } } },
    },
    referencias: {
      type: 'array',
      maxItems: 40,
      items: {
        type: 'object',
        required: ['tipo_documento', 'folio'],
        properties: { tipo_documento: { ...numOrStr, description: '801 orden de compra, 52 guía, 33 factura…' }, folio: numOrStr, fecha: date, codigo: { type: 'integer', enum: [1, 2, 3], description: 'CodRef' } },
      },
    },
  },
} as const;

const expectedSchema = {
  type: 'object',
  required: ['id', 'kind', 'rut_proveedor', 'fecha', 'monto_total'],
  properties: {
    id,
    kind: { type: 'string', enum: ['purchase_order', 'goods_receipt', 'vendor_bill'] },
    rut_proveedor: rut,
    fecha: date,
    monto_neto: amount,
    monto_total: amount,
    numero: { ...numOrStr, description: 'OC number (purchase orders), guía number (goods receipts)' },
    folio_factura: { ...numOrStr, description: "Vendor bills: the supplier's folio as typed" },
    lines: {
      type: 'array',
      maxItems: 500,
      items: { type: 'object', required: ['descripcion'], properties: { descripcion: { type: 'string', maxLength: 1000 }, cantidad: { type: 'number' }, precio_unitario: { type: 'number' } } },
    },
  },
} as const;

const rcvSchema = {
  type: 'object',
  required: ['rut_emisor', 'tipo_dte', 'folio', 'fecha_emision', 'monto_total'],
  properties: {
    id: { ...id, description: 'Default `<rut_emisor>-<tipo_dte>-<folio>`' },
    rut_emisor: rut,
    tipo_dte: { type: 'integer', minimum: 1, maximum: 999 },
    folio: { type: 'integer', minimum: 1 },
    fecha_emision: date,
    monto_total: { type: 'number' },
    monto_neto: { type: 'number' },
    iva: { type: 'number' },
    estado: { type: 'string', maxLength: 40 },
  },
} as const;

export const reconcileBody = {
  type: 'object',
  required: ['company_rut', 'received'],
  properties: {
    company_rut: { ...rut, description: "The receiving company (checked against the token's companies)" },
    received: { type: 'array', maxItems: MAX_DOCUMENTS, items: receivedSchema, description: 'DTEs received from suppliers' },
    expected: { type: 'array', maxItems: MAX_DOCUMENTS, items: expectedSchema, description: "The ERP's purchase orders, goods receipts and vendor bills" },
    rcv: { type: 'array', maxItems: MAX_DOCUMENTS, items: rcvSchema, description: 'Registro de Compras entries' },
    options: {
      type: 'object',
      additionalProperties: false,
      properties: {
        amount_tolerance: { type: 'number', minimum: 0, maximum: 100_000, description: 'Pesos always accepted (default 2)' },
        amount_tolerance_per_line: { type: 'number', minimum: 0, maximum: 10_000, description: 'Extra pesos per line (default 1)' },
        date_window_days: { type: 'integer', minimum: 1, maximum: 366, description: 'Days within which dates count as close (default 30)' },
        threshold: { type: 'number', minimum: 0, maximum: 1, description: 'Lowest score that is a match (default 0.6)' },
        max_parts: { type: 'integer', minimum: 1, maximum: 6, description: 'Most invoices per OC / receipts per invoice (default 4)' },
      },
    },
  },
} as const;

const str = { type: 'string' } as const;
const unmatched = { type: 'array', items: { type: 'object', properties: { id: str, reason: str } } } as const;
export const reconcileResponse = {
  type: 'object',
  properties: {
    matches: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          received: str,
          expected: { type: 'array', items: str },
          rcv: { type: ['string', 'null'] },
          score: { type: 'number' },
          kind: { type: 'string', enum: ['exact', 'partial', 'credit_note', 'fuzzy'] },
          adjusts: { ...str, description: 'Credit/debit notes: the received invoice they adjust' },
          explanation: str,
        },
      },
    },
    unmatched_received: { type: 'array', items: { type: 'object', properties: { id: str, rcv: { type: ['string', 'null'] }, reason: str } } },
    unmatched_expected: unmatched,
    unmatched_rcv: unmatched,
    remaining: {
      type: 'array',
      items: {
        type: 'object',
        properties: { purchase_order: str, numero: { type: ['string', 'null'] }, monto_total: { type: 'number' }, facturado: { type: 'number' }, ajustes: { type: 'number' }, pendiente: { type: 'number' }, invoices: { type: 'array', items: str } },
      },
    },
  },
} as const;

type Obj = Record<string, unknown>;
interface ReconcileBody {
  company_rut: string;
  received: Obj[];
  expected?: Obj[];
  rcv?: Obj[];
  options?: Obj;
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The body's snake_case keys → the package's camelCase, recursively (values untouched). */
function toCamel(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toCamel);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), toCamel(x)]));
  return v;
}

/** The reconciler's field (`received[3].montoTotal`, `input`) → the body's (`received.3.monto_total`, `body`). */
export function bodyField(field: string): string {
  if (field === 'input') return 'body';
  return field
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .map(snake)
    .join('.');
}

function answer(r: ReconcileResult) {
  return {
    matches: r.matches,
    unmatched_received: r.unmatchedReceived,
    unmatched_expected: r.unmatchedExpected,
    unmatched_rcv: r.unmatchedRcv,
    remaining: r.remaining.map((x) => ({ purchase_order: x.purchaseOrder, numero: x.numero, monto_total: x.montoTotal, facturado: x.facturado, ajustes: x.ajustes, pendiente: x.pendiente, invoices: x.invoices })),
  };
}

const routes: FastifyPluginAsync = async (app) => {
  app.post<{ Body: ReconcileBody }>(
    '/api/v1/ai/reconcile',
    {
      schema: {
        tags: ['reconcile'],
        summary: 'Match received DTEs with purchase orders, goods receipts, vendor bills and the RCV',
        body: reconcileBody,
        response: { 200: reconcileResponse, ...errorResponses },
      },
      // Authenticate before the body is validated: no 400 for callers without a token.
      preValidation: async (request) => {
        await app.requirePermission(request, { permission: 'ai:use' });
      },
    },
    async (request) => {
      const b = request.body;
      const company = b.company_rut.trim();
      if (!Rut.isValid(company)) throw new FieldError('ERR_RUT_INVALID', 422, 'company_rut is not a valid RUT', [{ field: 'company_rut', message: 'invalid RUT', code: 'ERR_RUT_INVALID' }]);
      await app.requirePermission(request, { permission: 'ai:use', company: Rut.parse(company).canonical });
      try {
        return answer(
          reconcile(
            {
              received: toCamel(b.received) as ReceivedDte[],
              ...(b.expected ? { expected: toCamel(b.expected) as ExpectedDoc[] } : {}),
              ...(b.rcv ? { rcv: toCamel(b.rcv) as RcvEntry[] } : {}),
            },
            toCamel(b.options ?? {}) as ReconcileOptions,
          ),
        );
      } catch (err) {
        if (err instanceof TimbreError && (err.code === 'ERR_INPUT_INVALID' || err.code === 'ERR_RUT_INVALID')) {
          const field = bodyField(err.field ?? 'input');
          const message = err.message.replace(err.field ?? '\u0000', field);
          throw new FieldError(err.code, 422, message, [{ field, message, code: err.code }]);
        }
        throw err;
      }
    },
  );
};
export default routes;
