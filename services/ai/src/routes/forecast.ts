/**
 * `POST /api/ai/forecast/folios` (api-contract.md, AI service): folio usage forecast for one DTE
 * type from the caller's daily history, with 80 % intervals and, given the remaining CAF ranges,
 * when the folios run out. The computation is @timbre/forecast's `forecastFolios` (pure): this
 * route maps the contract's snake_case body to it and its errors' fields back to the body's paths.
 *
 * Errors: JSON types and ranges the schema can state (horizon_days 1..365, counts ≥ 0, CAF ranges'
 * integers) → 400 ERR_BAD_REQUEST; what only the forecaster can judge (keys that are not real
 * `YYYY-MM-DD` dates, fewer than 14 days, next outside desde..hasta+1, `today` not after the
 * history) → 422 ERR_INPUT_INVALID. Both name the field (`historical_data.2025-13-01`,
 * `horizon_days`, `remaining.0.fecha_autorizacion`).
 */
import { Rut, TimbreError } from '@timbre/dte';
import { forecastFolios, type CafRemaining, type ForecastResult } from '@timbre/forecast';
import type { FastifyPluginAsync } from 'fastify';
import { FieldError, errorResponses } from '../problems.js';

const date = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', examples: ['2026-01-15'] } as const;
/**
 * Three years of daily counts. The models look back at most a year (plus the backtest's origins), so
 * more only costs CPU: the fit runs on the event loop, ~0.7 s at this size, ~2 s at ten years.
 * Bounds the span (first to last date: missing days are densified as 0), not just the key count.
 */
export const MAX_HISTORY_DAYS = 1100;

export const forecastBody = {
  type: 'object',
  required: ['dte_type', 'historical_data', 'horizon_days'],
  properties: {
    dte_type: { type: 'integer', minimum: 1, maximum: 999, description: 'SII document type (33, 39, 61 …); "33" is accepted', examples: [33] },
    historical_data: {
      type: 'object',
      description: `Documents issued per day, \`{"YYYY-MM-DD": count}\`: at least 14 days, spanning at most ${MAX_HISTORY_DAYS}; days missing between the first and the last count as 0`,
      maxProperties: MAX_HISTORY_DAYS,
      additionalProperties: { type: 'number', minimum: 0 },
      examples: [{ '2026-01-05': 41, '2026-01-06': 38 }],
    },
    horizon_days: { type: 'integer', minimum: 1, maximum: 365, description: 'Days to forecast, from `today`' },
    company_id: {
      anyOf: [{ type: 'string', maxLength: 64 }, { type: 'integer' }],
      description: 'The company (a RUT, checked against the token\'s companies; or the ERP\'s own id, not checked: the forecast reads nothing but this body)',
    },
    today: { ...date, description: 'First forecast day (default: the day after the last historical date)' },
    remaining: {
      type: 'array',
      maxItems: 200,
      description: 'Folio ranges still available (the CAFs in use); given, the answer has `supply`',
      items: {
        type: 'object',
        required: ['desde', 'hasta', 'fecha_autorizacion'],
        additionalProperties: false,
        properties: {
          desde: { type: 'integer', minimum: 1 },
          hasta: { type: 'integer', minimum: 1 },
          next: { type: 'integer', minimum: 1, description: 'Next folio to use (default: desde)' },
          fecha_autorizacion: { ...date, description: "The CAF's authorisation date (types 33/43/46/56/61 expire 6 months later)" },
        },
      },
    },
  },
} as const;

const num = { type: 'number' } as const;
const dateOrNull = { type: ['string', 'null'] } as const;

export const forecastResponse = {
  type: 'object',
  properties: {
    predicted_usage: { type: 'integer', description: 'Expected documents over the horizon' },
    daily_predictions: {
      type: 'array',
      items: {
        type: 'object',
        properties: { date: { type: 'string' }, predicted_count: num, confidence_low: num, confidence_high: num },
        description: 'confidence_low/high: the 80 % prediction interval',
      },
    },
    avg_daily: num,
    peak_day: { type: 'string' },
    model_accuracy: { ...num, description: 'max(0, 1 − WAPE) of the chosen model on a rolling-origin backtest' },
    model: { type: 'string', description: 'The model the backtest chose' },
    backtest: {
      type: 'object',
      properties: {
        origins: { type: 'integer' },
        horizon: { type: 'integer' },
        mase: num,
        wape: num,
        candidates: { type: 'array', items: { type: 'object', properties: { model: { type: 'string' }, mase: num } } },
      },
    },
    supply: {
      type: 'object',
      properties: {
        remaining_folios: { type: 'integer' },
        runs_out_on: { ...dateOrNull, description: 'First day the expected demand cannot be served (null: not within 400 days)' },
        runs_out_on_p80: { ...dateOrNull, description: 'Same with the 80 % upper bound (the early date)' },
        expires_on: { ...dateOrNull, description: 'First day a CAF with unused folios expires' },
        reason: { type: ['string', 'null'], enum: ['exhausted', 'expired', null] },
        recommendation: {
          type: ['object', 'null'],
          properties: { request_by: { type: 'string' }, folios: { type: 'integer' } },
        },
      },
    },
  },
} as const;

interface ForecastBody {
  dte_type: number;
  historical_data: Record<string, number>;
  horizon_days: number;
  company_id?: string | number;
  today?: string;
  remaining?: Array<{ desde: number; hasta: number; next?: number; fecha_autorizacion: string }>;
}

/** forecastFolios' field (`remaining[2].fechaAutorizacion`) → the body's (`remaining.2.fecha_autorizacion`). */
export function bodyField(field: string): string {
  return field.replace(/\[(\d+)\]/g, '.$1').replace(/\.fechaAutorizacion$/, '.fecha_autorizacion');
}

/** 422 when the history spans more than MAX_HISTORY_DAYS (keys that are not dates are left to forecastFolios). */
function historySpan(historical: Record<string, number>): void {
  let first = Infinity;
  let last = -Infinity;
  for (const k of Object.keys(historical)) {
    const t = /^\d{4}-\d{2}-\d{2}$/.test(k) ? Date.parse(`${k}T00:00:00Z`) : NaN;
    if (Number.isNaN(t)) continue;
    if (t < first) first = t;
    if (t > last) last = t;
  }
  const days = last >= first ? Math.round((last - first) / 86_400_000) + 1 : 0;
  if (days > MAX_HISTORY_DAYS) {
    const message = `historical_data spans ${days} days (first to last date); at most ${MAX_HISTORY_DAYS} are used: send the most recent`;
    throw new FieldError('ERR_INPUT_INVALID', 422, message, [{ field: 'historical_data', message, code: 'ERR_INPUT_INVALID' }]);
  }
}

/** A RUT-looking company_id (`76086428-5`, `76.086.428-5`): checked against the token's companies. */
const RUT_LIKE = /^[0-9.]{1,12}-?[0-9Kk]$/;

const forecast: FastifyPluginAsync = async (app) => {
  app.post<{ Body: ForecastBody }>(
    '/api/ai/forecast/folios',
    {
      schema: {
        tags: ['forecast'],
        summary: 'Forecast folio usage (80 % intervals) and when the CAFs run out',
        body: forecastBody,
        response: { 200: forecastResponse, ...errorResponses },
      },
      // Authenticate before the body is validated: no 400 for callers without a token.
      preValidation: async (request) => {
        await app.requirePermission(request, { permission: 'ai:use' });
      },
    },
    async (request) => {
      const b = request.body;
      const company = b.company_id;
      if (typeof company === 'string' && RUT_LIKE.test(company.trim())) {
        if (!Rut.isValid(company.trim())) throw new FieldError('ERR_RUT_INVALID', 422, 'company_id is not a valid RUT', [{ field: 'company_id', message: 'invalid RUT check digit', code: 'ERR_RUT_INVALID' }]);
        await app.requirePermission(request, { permission: 'ai:use', company: company.trim(), dteType: b.dte_type });
      } else {
        await app.requirePermission(request, { permission: 'ai:use', dteType: b.dte_type });
      }
      const remaining: CafRemaining[] | undefined = b.remaining?.map((r) => ({
        desde: r.desde,
        hasta: r.hasta,
        ...(r.next !== undefined ? { next: r.next } : {}),
        fechaAutorizacion: r.fecha_autorizacion,
      }));
      historySpan(b.historical_data);
      let result: ForecastResult;
      try {
        result = forecastFolios({
          historical: b.historical_data,
          horizonDays: b.horizon_days,
          tipoDte: b.dte_type,
          ...(b.today !== undefined ? { today: b.today } : {}),
          ...(remaining !== undefined ? { remaining } : {}),
        });
      } catch (err) {
        if (err instanceof TimbreError && err.code === 'ERR_INPUT_INVALID') {
          const field = bodyField(err.field ?? 'body');
          throw new FieldError('ERR_INPUT_INVALID', 422, err.message, [{ field, message: err.message, code: err.code }]);
        }
        throw err;
      }
      return result;
    },
  );
};
export default forecast;
