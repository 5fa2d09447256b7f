/**
 * `startFakeAnthropic()`: a real HTTP server speaking the Anthropic Messages API (POST /v1/messages)
 * for tests, reached through the real SDK by its `baseURL`. Replies are scripted with `enqueue`,
 * one per request, in order; every request is recorded (path, headers, parsed body) so tests can
 * prove what reached the wire. The wire format follows the API reference and the SDK's types:
 * JSON `message` objects, SSE streams (message_start, content_block_start/delta/stop, ping,
 * message_delta, message_stop), and error bodies `{"type":"error","error":{type,message}}` with
 * `request-id` (and `retry-after` on 429/529) headers.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FakeErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'overloaded_error';

interface ReplyBase {
  /** Wait this long before answering (a stream waits before its first byte). */
  delayMs?: number;
  /** Usage reported; default: ~4 characters per token of the request and the reply. */
  usage?: { input_tokens: number; output_tokens: number };
  /** Model id echoed; default: the request's. */
  model?: string;
}

export type FakeReply =
  /** A tool call. `rawJson` replaces the input's JSON on the wire (streamed as partial_json; in a JSON reply `input` becomes that string when it does not parse): malformed output. */
  | (ReplyBase & { kind: 'tool_use'; name: string; input?: unknown; rawJson?: string; text?: string; stopReason?: string; id?: string })
  /** Plain text (streamed in chunks when the request streams). */
  | (ReplyBase & { kind: 'text'; text: string; stopReason?: string; chunkSize?: number })
  /** The model declines: stop_reason "refusal" with stop_details. */
  | (ReplyBase & { kind: 'refusal'; text?: string })
  /** An HTTP error with Anthropic's error body. */
  | (ReplyBase & { kind: 'error'; status: number; type?: FakeErrorType; message?: string; retryAfter?: string })
  /** Streams only: 200, some text, then an SSE `error` event (as when Anthropic overloads mid-stream). */
  | (ReplyBase & { kind: 'stream_error'; text?: string; type?: FakeErrorType; message?: string });

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  /** The raw body as received (for "this string never reached the wire" checks). */
  raw: string;
}

export interface FakeAnthropic {
  url: string;
  requests: RecordedRequest[];
  enqueue(...replies: FakeReply[]): void;
  /** Replies not consumed yet. */
  pending(): number;
  close(): Promise<void>;
}

const ERROR_TYPE_BY_STATUS: Record<number, FakeErrorType> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

const rid = (prefix: string): string => `${prefix}_01${randomBytes(12).toString('base64url')}`;
const tokens = (s: string): number => Math.max(1, Math.ceil(s.length / 4));

export async function startFakeAnthropic(): Promise<FakeAnthropic> {
  const queue: FakeReply[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        return sendError(res, 400, 'invalid_request_error', 'There was an issue with the format or content of your request: invalid JSON');
      }
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body, raw });
      if (req.method !== 'POST' || path !== '/v1/messages') return sendError(res, 404, 'not_found_error', `Not found: ${req.method} ${path}`);
      if (!req.headers['x-api-key'] && !req.headers.authorization) return sendError(res, 401, 'authentication_error', 'x-api-key header is required');
      if (!req.headers['anthropic-version']) return sendError(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
      for (const f of ['model', 'max_tokens', 'messages'] as const) {
        if (body[f] === undefined) return sendError(res, 400, 'invalid_request_error', `${f}: Field required`);
      }
      const reply = queue.shift();
      if (reply === undefined) return sendError(res, 400, 'invalid_request_error', 'fake Anthropic: no reply enqueued for this request');
      const answer = (): void => {
        if (res.destroyed) return;
        if (reply.kind === 'error') {
          return sendError(res, reply.status, reply.type ?? ERROR_TYPE_BY_STATUS[reply.status] ?? 'api_error', reply.message ?? 'fake error', reply.retryAfter);
        }
        if (reply.kind === 'stream_error') {
          if (body.stream !== true) return sendError(res, 400, 'invalid_request_error', 'fake Anthropic: stream_error scripted for a non-streaming request');
          return streamError(res, reply, body);
        }
        try {
          if (body.stream === true) streamReply(res, reply, body, raw);
          else jsonReply(res, reply, body, raw);
        } catch (err) {
          // a test scripted something the fake cannot say: answer 400 (not retried) saying so
          sendError(res, 400, 'invalid_request_error', err instanceof Error ? err.message : String(err));
        }
      };
      if (reply.delayMs) setTimeout(answer, reply.delayMs);
      else answer();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...r) => void queue.push(...r),
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return { 'request-id': rid('req'), 'anthropic-organization-id': '00000000-0000-0000-0000-000000000000', ...extra };
}

function sendError(res: ServerResponse, status: number, type: FakeErrorType, message: string, retryAfter?: string): void {
  const h = headers({ 'content-type': 'application/json' });
  if (retryAfter !== undefined) h['retry-after'] = retryAfter;
  else if (status === 429 || status === 529) h['retry-after'] = '0';
  res.writeHead(status, h);
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: h['request-id'] }));
}

type Block = { type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown; json: string };

function blocksOf(reply: Exclude<FakeReply, { kind: 'error' | 'stream_error' }>): { blocks: Block[]; stopReason: string } {
  switch (reply.kind) {
    case 'text':
      return { blocks: [{ type: 'text', text: reply.text }], stopReason: reply.stopReason ?? 'end_turn' };
    case 'refusal':
      return { blocks: reply.text ? [{ type: 'text', text: reply.text }] : [], stopReason: 'refusal' };
    case 'tool_use': {
      const json = reply.rawJson ?? JSON.stringify(reply.input ?? {});
      let input: unknown;
      try {
        input = JSON.parse(json);
      } catch {
        input = json;
      }
      const blocks: Block[] = reply.text ? [{ type: 'text', text: reply.text }] : [];
      blocks.push({ type: 'tool_use', id: reply.id ?? rid('toolu'), name: reply.name, input, json });
      return { blocks, stopReason: reply.stopReason ?? 'tool_use' };
    }
    default:
      throw new Error(`fake Anthropic: unknown reply kind ${JSON.stringify((reply as { kind?: unknown }).kind)}`);
  }
}

function usageOf(reply: ReplyBase, raw: string, blocks: Block[]): { input_tokens: number; output_tokens: number } {
  return reply.usage ?? { input_tokens: tokens(raw), output_tokens: tokens(blocks.map((b) => (b.type === 'text' ? b.text : b.json)).join('')) };
}

function wireBlock(b: Block): Record<string, unknown> {
  return b.type === 'text' ? { type: 'text', text: b.text, citations: null } : { type: 'tool_use', id: b.id, name: b.name, input: b.input, caller: { type: 'direct' } };
}

function stopDetails(stopReason: string): Record<string, unknown> | null {
  return stopReason === 'refusal' ? { type: 'refusal', category: null, explanation: null } : null;
}

function jsonReply(res: ServerResponse, reply: Exclude<FakeReply, { kind: 'error' | 'stream_error' }>, body: Record<string, unknown>, raw: string): void {
  const { blocks, stopReason } = blocksOf(reply);
  const usage = usageOf(reply, raw, blocks);
  res.writeHead(200, headers({ 'content-type': 'application/json' }));
  res.end(
    JSON.stringify({
      id: rid('msg'),
      type: 'message',
      role: 'assistant',
      model: reply.model ?? body.model,
      content: blocks.map(wireBlock),
      stop_reason: stopReason,
      stop_sequence: null,
      stop_details: stopDetails(stopReason),
      container: null,
      usage: { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard' },
    }),
  );
}

function streamReply(res: ServerResponse, reply: Exclude<FakeReply, { kind: 'error' | 'stream_error' }>, body: Record<string, unknown>, raw: string): void {
  const { blocks, stopReason } = blocksOf(reply);
  const usage = usageOf(reply, raw, blocks);
  res.writeHead(200, headers({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' }));
  const send = (event: string, data: Record<string, unknown>): void => void res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  send('message_start', {
    message: {
      id: rid('msg'),
      type: 'message',
      role: 'assistant',
      model: reply.model ?? body.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      stop_details: null,
      container: null,
      usage: { input_tokens: usage.input_tokens, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, service_tier: 'standard' },
    },
  });
  const size = reply.kind === 'text' && reply.chunkSize ? reply.chunkSize : 8;
  blocks.forEach((b, index) => {
    if (b.type === 'text') {
      send('content_block_start', { index, content_block: { type: 'text', text: '', citations: null } });
      if (index === 0) send('ping', {});
      for (let i = 0; i < b.text.length; i += size) send('content_block_delta', { index, delta: { type: 'text_delta', text: b.text.slice(i, i + size) } });
    } else {
      send('content_block_start', { index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {}, caller: { type: 'direct' } } });
      if (index === 0) send('ping', {});
      send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
      for (let i = 0; i < b.json.length; i += 16) send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: b.json.slice(i, i + 16) } });
    }
    send('content_block_stop', { index });
  });
  send('message_delta', {
    delta: { stop_reason: stopReason, stop_sequence: null, stop_details: stopDetails(stopReason), container: null },
    usage: { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  });
  send('message_stop', {});
  res.end();
}

function streamError(res: ServerResponse, reply: Extract<FakeReply, { kind: 'stream_error' }>, body: Record<string, unknown>): void {
  res.writeHead(200, headers({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' }));
  const send = (event: string, data: Record<string, unknown>): void => void res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  send('message_start', {
    message: { id: rid('msg'), type: 'message', role: 'assistant', model: reply.model ?? body.model, content: [], stop_reason: null, stop_sequence: null, stop_details: null, container: null, usage: { input_tokens: 10, output_tokens: 1 } },
  });
  if (reply.text) {
    send('content_block_start', { index: 0, content_block: { type: 'text', text: '', citations: null } });
    send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: reply.text } });
  }
  send('error', { error: { type: reply.type ?? 'overloaded_error', message: reply.message ?? 'Overloaded' } });
  res.end();
}
