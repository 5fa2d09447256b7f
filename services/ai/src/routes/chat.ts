/**
 * `POST /api/ai/sii/chat`: the DTE/SII assistant. Body `{message, history?, company_rut?, stream?}`;
 * permission `ai:use` (and the company, when `company_rut` is given). The answer is a Server-Sent
 * Events stream (`meta`, `citation`, `tool_call`, `tool_result`, `delta`, `done`, `error`; heartbeat
 * comments; `retry:`) or, with `stream: false` or `Accept: application/json`, one JSON object
 * `{answer, citations, engine, model?, tools_used, usage?}`.
 *
 * Tools read the DTE service with the caller's own credentials (see dte-client.ts): this route
 * checks only `ai:use`; what the data tools may see is the DTE service's decision. A client that
 * disconnects aborts the model call and any tool still running.
 */
import { Rut } from '@timbre/dte';
import { KnowledgeBase } from '@timbre/knowledge';
import { Llm, type LlmConfig } from '@timbre/llm';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { DteClient } from '../dte-client.js';
import { converse, type StreamEvent } from '../chat/engine.js';
import type { ChatModel } from '../chat/model.js';
import { buildTools } from '../chat/tools.js';
import { FieldError, errorResponses, problem } from '../problems.js';

export const MAX_MESSAGE = 4000;
export const MAX_HISTORY = 20;

export interface ChatRouteOptions {
  /** DTE service base URL (TIMBRE_DTE_URL); default http://127.0.0.1:8001. */
  dteServiceUrl?: string;
  /** Claude (ANTHROPIC_API_KEY …): a `Llm` is built from it. Absent (and no `model`): retrieval only. */
  llm?: LlmConfig;
  /** A ready model instead of `llm` (one `Llm` shared with other routes). */
  model?: ChatModel;
  /** SSE heartbeat comment interval (default 15 s). */
  heartbeatMs?: number;
}

export const chatBody = {
  type: 'object',
  required: ['message'],
  additionalProperties: false,
  properties: {
    message: { type: 'string', minLength: 1, maxLength: MAX_MESSAGE, description: 'The question (Spanish)' },
    history: {
      type: 'array',
      maxItems: MAX_HISTORY,
      description: 'Earlier turns, oldest first',
      items: {
        type: 'object',
        required: ['role', 'content'],
        additionalProperties: false,
        properties: { role: { type: 'string', enum: ['user', 'assistant'] }, content: { type: 'string', minLength: 1, maxLength: MAX_MESSAGE } },
      },
    },
    company_rut: { type: 'string', maxLength: 12, description: 'The company the question is about (checked against the token); the data tools default to it' },
    stream: { type: 'boolean', default: true, description: 'false: one JSON answer instead of text/event-stream' },
  },
} as const;

const citation = { type: 'object', properties: { n: { type: 'integer' }, id: { type: 'string' }, titulo: { type: 'string' }, cita: { type: 'string' }, url: { type: ['string', 'null'] } } } as const;

export const chatJsonResponse = {
  type: 'object',
  properties: {
    answer: { type: 'string' },
    citations: { type: 'array', items: citation },
    engine: { type: 'string', enum: ['retrieval', 'claude'] },
    model: { type: 'string' },
    tools_used: { type: 'array', items: { type: 'string' } },
    usage: { type: 'object', properties: { input_tokens: { type: 'integer' }, output_tokens: { type: 'integer' } } },
  },
} as const;

interface ChatBody {
  message: string;
  history?: Array<{ role: 'user' | 'assistant'; content: string }>;
  company_rut?: string;
  stream?: boolean;
}

/** JSON when asked for (`stream: false`, or Accept names JSON and not the event stream). */
function wantsJson(request: FastifyRequest<{ Body: ChatBody }>): boolean {
  if (request.body.stream === false) return true;
  const accept = String(request.headers.accept ?? '');
  return /application\/json/i.test(accept) && !/text\/event-stream/i.test(accept);
}

const sse = (e: StreamEvent): string => `event: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;

/** Abort `ac` when the client goes away before the answer is complete. */
function abortOnDisconnect(reply: FastifyReply, ac: AbortController): void {
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
}

const chat: FastifyPluginAsync<ChatRouteOptions> = async (app, opts) => {
  const kb = new KnowledgeBase();
  const dte = new DteClient({ baseUrl: opts.dteServiceUrl ?? 'http://127.0.0.1:8001' });
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const model: ChatModel | undefined = opts.model ?? (opts.llm ? new Llm(opts.llm) : undefined);

  app.post<{ Body: ChatBody }>(
    '/api/ai/sii/chat',
    {
      schema: {
        tags: ['chat'],
        summary: 'Ask the DTE/SII assistant (SSE stream, or JSON)',
        description:
          'Answers with citations from the SII knowledge base; tools read your documents and CAFs from the DTE service with your own token. Without ANTHROPIC_API_KEY the answer is built from retrieval alone and says so.',
        body: chatBody,
        response: { 200: { description: 'text/event-stream (default) or application/json', ...chatJsonResponse }, ...errorResponses },
      },
      // Authenticate before the body is validated: no 400 for callers without a token.
      preValidation: async (request) => {
        await app.requirePermission(request, { permission: 'ai:use' });
      },
    },
    async (request, reply) => {
      const b = request.body;
      let companyRut: string | undefined;
      if (b.company_rut !== undefined) {
        const raw = b.company_rut.trim();
        if (!Rut.isValid(raw)) throw new FieldError('ERR_RUT_INVALID', 422, 'company_rut is not a valid RUT', [{ field: 'company_rut', message: 'invalid RUT', code: 'ERR_RUT_INVALID' }]);
        companyRut = Rut.parse(raw, { field: 'company_rut' }).canonical;
        await app.requirePermission(request, { permission: 'ai:use', company: companyRut });
      } else {
        const companies = request.principal?.companies ?? [];
        if (companies.length === 1 && companies[0] !== '*') companyRut = companies[0];
      }
      const h = request.headers;
      const credentials = {
        ...(typeof h.authorization === 'string' ? { authorization: h.authorization } : {}),
        ...(typeof h['x-api-key'] === 'string' ? { apiKey: h['x-api-key'] } : {}),
      };
      const tools = buildTools({ dte, credentials, kb, ...(companyRut !== undefined ? { defaultRut: companyRut } : {}) });
      const input = { message: b.message, history: b.history ?? [], ...(companyRut !== undefined ? { companyRut } : {}) };
      const deps = { kb, tools, ...(model ? { model } : {}) };
      const ac = new AbortController();
      abortOnDisconnect(reply, ac);

      if (wantsJson(request)) {
        let answer = '';
        let engine: 'retrieval' | 'claude' = 'retrieval';
        let model: string | undefined;
        let usage: { input_tokens: number; output_tokens: number } | undefined;
        const citations: unknown[] = [];
        const toolsUsed: string[] = [];
        for await (const e of converse(input, deps, ac.signal)) {
          if (e.event === 'meta') {
            engine = e.data.engine;
            model = e.data.model;
          } else if (e.event === 'citation') citations.push(e.data);
          else if (e.event === 'tool_call') toolsUsed.push(e.data.name);
          else if (e.event === 'delta') answer += e.data.text;
          else if (e.event === 'done') usage = e.data.usage;
          else if (e.event === 'error') {
            request.log.warn({ code: e.data.code }, 'chat model error');
            return reply.code(502).type('application/problem+json').send(problem(502, e.data.code, e.data.message));
          }
        }
        return { answer, citations, engine, ...(model !== undefined ? { model } : {}), tools_used: toolsUsed, ...(usage ? { usage } : {}) };
      }

      // The stream: from here on errors are `error` events, not problem+json.
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no', // proxies (nginx) must not buffer the stream
      });
      res.write('retry: 3000\n\n');
      const beat = setInterval(() => {
        if (!res.writableEnded) res.write(': heartbeat\n\n');
      }, heartbeatMs);
      try {
        for await (const e of converse(input, deps, ac.signal)) {
          if (ac.signal.aborted) break;
          res.write(sse(e));
        }
      } catch (err) {
        request.log.error({ err }, 'chat failed');
        if (!ac.signal.aborted) res.write(sse({ event: 'error', data: { code: 'ERR_INTERNAL', message: 'internal error' } }));
      } finally {
        clearInterval(beat);
        if (!res.writableEnded) res.end();
      }
      return reply;
    },
  );
};

export default chat;
