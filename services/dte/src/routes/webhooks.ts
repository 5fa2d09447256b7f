/**
 * Webhook subscriptions and deliveries (the dead-letter list and redelivery). Every route needs the
 * `admin` permission for the company; another company's subscription or delivery is a 404.
 */
import { AuthError } from '@timbre/auth';
import { Rut } from '@timbre/dte';
import {
  createSubscription,
  deleteSubscription,
  findCompany,
  findDelivery,
  findSubscription,
  listDeliveries,
  listSubscriptions,
  redeliver,
  WEBHOOK_DELIVERY_STATUSES,
  type WebhookDeliveryStatus,
  type WebhookDeliverySummary,
  type WebhookSubscription,
} from '@timbre/store';
import { WEBHOOK_EVENT_TYPES } from '@timbre/webhooks';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AppConfig } from '../config.js';
import { notFound, ServiceError } from '../problems.js';
import { errorResponses } from '../schemas.js';
import { deliveryHeaderId } from '../services/webhooks.js';

const rut = { type: 'string', pattern: '^[0-9]{1,8}-[0-9Kk]$', examples: ['76086428-5'] } as const;
const eventTypes = { type: 'string', enum: [...WEBHOOK_EVENT_TYPES, '*'] } as const;

const subscriptionBody = {
  type: 'object',
  required: ['rut_company', 'url', 'events'],
  additionalProperties: false,
  properties: {
    rut_company: rut,
    url: { type: 'string', minLength: 8, maxLength: 2048, description: 'http:// or https:// URL, e.g. https://odoo.example.cl/dte/webhook/status_update' },
    events: { type: 'array', minItems: 1, maxItems: 20, uniqueItems: true, items: eventTypes, description: 'event types, or ["*"] for all' },
    secret: { type: 'string', minLength: 32, maxLength: 256, description: 'HMAC secret (≥ 32 characters); generated when absent' },
  },
} as const;

const subscriptionSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    rut_company: { type: 'string' },
    url: { type: 'string' },
    events: { type: 'array', items: { type: 'string' } },
    active: { type: 'boolean', description: 'false after the endpoint answered 410 Gone' },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
  },
} as const;

const createdSubscriptionSchema = {
  type: 'object',
  properties: {
    ...subscriptionSchema.properties,
    secret: { type: 'string', description: 'the HMAC secret: shown in this answer only, never again' },
  },
} as const;

const deliverySchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    delivery_id: { type: 'string', description: 'the X-Timbre-Delivery header value' },
    subscription_id: { type: 'integer' },
    rut_company: { type: 'string' },
    url: { type: 'string' },
    event_id: { type: 'integer' },
    event: { type: 'string' },
    aggregate_key: { type: 'string' },
    status: { type: 'string', enum: [...WEBHOOK_DELIVERY_STATUSES] },
    attempts: { type: 'integer' },
    next_attempt_at: { type: 'string' },
    last_status_code: { type: ['integer', 'null'] },
    last_error: { type: ['string', 'null'] },
    delivered_at: { type: ['string', 'null'] },
    created_at: { type: 'string' },
    updated_at: { type: 'string' },
    payload: { type: 'object', additionalProperties: true, description: 'the body sent' },
  },
} as const;

const rutQuery = { type: 'object', required: ['rut_company'], properties: { rut_company: rut } } as const;

const deliveriesQuery = {
  type: 'object',
  required: ['rut_company'],
  properties: {
    rut_company: rut,
    status: { type: 'string', enum: [...WEBHOOK_DELIVERY_STATUSES], description: '`dead` is the dead-letter list' },
    subscription_id: { type: 'integer', minimum: 1 },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    before: { type: 'integer', minimum: 1, description: 'keyset cursor: next_before of the previous page' },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;

const showDelivery = (d: WebhookDeliverySummary) => {
  const { event_type, ...rest } = d;
  return { ...rest, delivery_id: deliveryHeaderId(d.id), event: event_type };
};

const webhooks: FastifyPluginAsync<{ config: AppConfig }> = async (app, { config }) => {
  const tags = ['webhooks'];
  const now = config.now ?? (() => new Date());

  /** admin for that company; another company's object is "not found", never "forbidden". */
  const requireOwner = async (request: FastifyRequest, rutCompany: string | undefined, what: string): Promise<void> => {
    await app.requirePermission(request, { permission: 'admin' });
    if (rutCompany === undefined) throw notFound(what);
    try {
      await app.requirePermission(request, { permission: 'admin', company: rutCompany });
    } catch (e) {
      if (e instanceof AuthError && e.status === 403) throw notFound(what);
      throw e;
    }
  };

  app.post<{ Body: { rut_company: string; url: string; events: string[]; secret?: string } }>(
    '/api/v1/webhooks/subscriptions',
    { schema: { tags, body: subscriptionBody, response: { 201: createdSubscriptionSchema, ...errorResponses } } },
    async (request, reply) => {
      const b = request.body;
      const rutCompany = Rut.parse(b.rut_company, { field: 'rut_company' }).canonical;
      await app.requirePermission(request, { permission: 'admin', company: rutCompany });
      if ((await findCompany(app.db, rutCompany)) === undefined) {
        throw new ServiceError('ERR_COMPANY_NOT_REGISTERED', 409, `company ${rutCompany} is not registered`);
      }
      const { subscription, secret } = await createSubscription(app.db, app.secretBox, {
        rutCompany,
        url: b.url,
        events: b.events,
        ...(b.secret !== undefined ? { secret: b.secret } : {}),
      });
      request.log.info({ subscription: subscription.id, rutCompany, events: subscription.events }, 'webhook subscription created');
      return reply.code(201).send({ ...subscription, secret });
    },
  );

  app.get<{ Querystring: { rut_company: string } }>(
    '/api/v1/webhooks/subscriptions',
    { schema: { tags, querystring: rutQuery, response: { 200: { type: 'object', properties: { items: { type: 'array', items: subscriptionSchema } } }, ...errorResponses } } },
    async (request) => {
      const rutCompany = Rut.parse(request.query.rut_company, { field: 'rut_company' }).canonical;
      await app.requirePermission(request, { permission: 'admin', company: rutCompany });
      const items: WebhookSubscription[] = await listSubscriptions(app.db, rutCompany);
      return { items };
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/api/v1/webhooks/subscriptions/:id',
    { schema: { tags, params: idParams, response: { 204: { type: 'null' }, ...errorResponses } } },
    async (request, reply) => {
      const what = `webhook subscription ${request.params.id}`;
      const sub = await findSubscription(app.db, request.params.id);
      await requireOwner(request, sub?.rut_company, what);
      if (!(await deleteSubscription(app.db, request.params.id))) throw notFound(what);
      request.log.info({ subscription: request.params.id }, 'webhook subscription deleted');
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: { rut_company: string; status?: WebhookDeliveryStatus; subscription_id?: number; limit: number; before?: number } }>(
    '/api/v1/webhooks/deliveries',
    {
      schema: {
        tags,
        querystring: deliveriesQuery,
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: deliverySchema }, next_before: { type: ['integer', 'null'] } } }, ...errorResponses },
      },
    },
    async (request) => {
      const q = request.query;
      const rutCompany = Rut.parse(q.rut_company, { field: 'rut_company' }).canonical;
      await app.requirePermission(request, { permission: 'admin', company: rutCompany });
      const rows = await listDeliveries(app.db, {
        rutCompany,
        limit: q.limit,
        ...(q.status !== undefined ? { status: q.status } : {}),
        ...(q.subscription_id !== undefined ? { subscriptionId: q.subscription_id } : {}),
        ...(q.before !== undefined ? { before: q.before } : {}),
      });
      const last = rows[rows.length - 1];
      return { items: rows.map(showDelivery), next_before: rows.length === q.limit && last !== undefined ? last.id : null };
    },
  );

  app.post<{ Params: { id: number } }>(
    '/api/v1/webhooks/deliveries/:id/redeliver',
    { schema: { tags, params: idParams, response: { 200: deliverySchema, ...errorResponses } } },
    async (request) => {
      const what = `webhook delivery ${request.params.id}`;
      const found = await findDelivery(app.db, request.params.id);
      await requireOwner(request, found?.rut_company, what);
      if (found?.status === 'delivered') {
        throw new ServiceError('ERR_WEBHOOK_ALREADY_DELIVERED', 409, `${what} was delivered at ${found.delivered_at ?? '?'}; only dead or pending deliveries are sent again`);
      }
      const after = await redeliver(app.db, request.params.id, { now: now() });
      if (after === undefined) throw notFound(what);
      if (after.status === 'delivered') throw new ServiceError('ERR_WEBHOOK_ALREADY_DELIVERED', 409, `${what} was delivered meanwhile`);
      request.log.info({ delivery: after.id, before: found?.status }, 'webhook redelivery requested');
      app.webhooks?.dispatcher.kick();
      return showDelivery(after);
    },
  );
};
export default webhooks;
