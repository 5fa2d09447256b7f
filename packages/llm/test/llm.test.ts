import { generateKeyPairSync } from 'node:crypto';
/**
 * @timbre/llm against the fake Anthropic server through the real SDK (baseURL): structured output,
 * each failure mode's code, SDK retries, the timeout, the budget, the streamed tool loop, and that
 * secrets never reach the wire (the server's recorded bodies).
 */
import { Llm, LlmError, scrubSecrets, validateSchema, type ChatEvent, type LlmConfig } from '@timbre/llm';
import { startFakeAnthropic, type FakeAnthropic } from '@timbre/llm/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
  expect(fake.pending()).toBe(0);
});

// Each test its own UTC day: the token ledger is process-wide.
let dayN = 0;
function llm(extra: Partial<LlmConfig> = {}): Llm {
  const day = new Date(Date.UTC(2026, 0, 1 + dayN++, 12));
  return new Llm({ apiKey: 'sk-ant-test', baseURL: fake.url, model: 'claude-test-model', maxRetries: 0, timeoutMs: 5000, ...extra }, { now: () => day });
}

const tool = {
  name: 'report',
  description: 'Report findings',
  inputSchema: {
    type: 'object',
    required: ['findings', 'confidence'],
    additionalProperties: false,
    properties: {
      findings: { type: 'array', items: { type: 'object', required: ['code'], properties: { code: { type: 'string' }, severity: { type: 'string', enum: ['warning', 'info'] } } } },
      confidence: { type: 'number', minimum: 0, maximum: 1 },
    },
  },
};
const parse = (x: unknown): { findings: Array<{ code: string }>; confidence: number } => x as { findings: Array<{ code: string }>; confidence: number };

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LlmError);
    return (err as LlmError).code;
  }
  return 'no error';
}

describe('structured', () => {
  it('forces the tool, validates and parses its input, counts usage', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'report', input: { findings: [{ code: 'X', severity: 'info' }], confidence: 0.7 }, usage: { input_tokens: 120, output_tokens: 30 } });
    const l = llm();
    const r = await l.structured({ system: 'sys', user: 'hola', tool, parse });
    expect(r.value).toEqual({ findings: [{ code: 'X', severity: 'info' }], confidence: 0.7 });
    expect(r.usage).toEqual({ inputTokens: 120, outputTokens: 30 });
    expect(r.model).toBe('claude-test-model');
    expect(l.usageToday()).toEqual({ tokens: 150, budget: undefined });
    expect(fake.requests).toHaveLength(1);
    const req = fake.requests[0]!;
    expect(req.path).toBe('/v1/messages');
    // SDK 1.x sends the key as a bearer token; older ones as x-api-key (the fake accepts both)
    expect(req.headers['x-api-key'] ?? req.headers.authorization).toMatch(/^(Bearer )?sk-ant-test$/);
    expect(req.headers['anthropic-version']).toBeTruthy();
    expect(req.body).toMatchObject({ model: 'claude-test-model', max_tokens: 2048, system: 'sys', tool_choice: { type: 'tool', name: 'report' }, messages: [{ role: 'user', content: 'hola' }] });
    expect((req.body.tools as Array<{ name: string; input_schema: unknown }>)[0]).toMatchObject({ name: 'report', input_schema: tool.inputSchema });
  });

  it.each([
    ['text only, no tool_use', { kind: 'text' as const, text: 'Todo bien.' }],
    ['schema-invalid input (wrong type)', { kind: 'tool_use' as const, name: 'report', input: { findings: 'none', confidence: 0.5 } }],
    ['missing required field', { kind: 'tool_use' as const, name: 'report', input: { findings: [] } }],
    ['out of range / extra field', { kind: 'tool_use' as const, name: 'report', input: { findings: [], confidence: 3, extra: 1 } }],
    ['input that is not JSON', { kind: 'tool_use' as const, name: 'report', rawJson: '{"findings": [' }],
    ['another tool than the forced one', { kind: 'tool_use' as const, name: 'other', input: { findings: [], confidence: 1 } }],
  ])('malformed: %s → ERR_LLM_MALFORMED', async (_label, reply) => {
    fake.enqueue(reply);
    expect(await codeOf(llm().structured({ system: 's', user: 'u', tool, parse }))).toBe('ERR_LLM_MALFORMED');
  });

  it('a parse that throws is ERR_LLM_MALFORMED too', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'report', input: { findings: [], confidence: 0.2 } });
    const bad = (): never => {
      throw new Error('nope');
    };
    expect(await codeOf(llm().structured({ system: 's', user: 'u', tool, parse: bad }))).toBe('ERR_LLM_MALFORMED');
  });

  it('refusal → ERR_LLM_REFUSED (usage still counted)', async () => {
    fake.enqueue({ kind: 'refusal', usage: { input_tokens: 10, output_tokens: 2 } });
    const l = llm();
    expect(await codeOf(l.structured({ system: 's', user: 'u', tool, parse }))).toBe('ERR_LLM_REFUSED');
    expect(l.usageToday().tokens).toBe(12);
  });

  it('529 overloaded then success: the SDK retries', async () => {
    fake.enqueue({ kind: 'error', status: 529 }, { kind: 'tool_use', name: 'report', input: { findings: [], confidence: 1 } });
    const r = await llm({ maxRetries: 2 }).structured({ system: 's', user: 'u', tool, parse });
    expect(r.value.confidence).toBe(1);
    expect(fake.requests).toHaveLength(2);
  });

  it('529 beyond maxRetries → ERR_LLM_UNAVAILABLE; 429 → ERR_LLM_RATE_LIMITED; 400 → ERR_LLM_BAD_REQUEST', async () => {
    fake.enqueue({ kind: 'error', status: 529 }, { kind: 'error', status: 529 });
    const e = await llm({ maxRetries: 1 }).structured({ system: 's', user: 'u', tool, parse }).catch((x: unknown) => x as LlmError);
    expect(e).toMatchObject({ code: 'ERR_LLM_UNAVAILABLE', status: 529 });
    expect(fake.requests).toHaveLength(2);
    fake.enqueue({ kind: 'error', status: 429 });
    expect(await codeOf(llm().structured({ system: 's', user: 'u', tool, parse }))).toBe('ERR_LLM_RATE_LIMITED');
    fake.enqueue({ kind: 'error', status: 400, message: 'max_tokens: too large' });
    expect(await codeOf(llm().structured({ system: 's', user: 'u', tool, parse }))).toBe('ERR_LLM_BAD_REQUEST');
  });

  it('401 → ERR_LLM_AUTH, not retried', async () => {
    fake.enqueue({ kind: 'error', status: 401, message: 'invalid x-api-key' });
    const e = await llm({ maxRetries: 2 }).structured({ system: 's', user: 'u', tool, parse }).catch((x: unknown) => x as LlmError);
    expect(e).toMatchObject({ code: 'ERR_LLM_AUTH', status: 401 });
    expect(fake.requests).toHaveLength(1);
  });

  it('timeout: a reply slower than timeoutMs → ERR_LLM_TIMEOUT in about timeoutMs, retries included', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'report', input: { findings: [], confidence: 1 }, delayMs: 3000 });
    const t0 = Date.now();
    expect(await codeOf(llm({ timeoutMs: 300, maxRetries: 2 }).structured({ system: 's', user: 'u', tool, parse }))).toBe('ERR_LLM_TIMEOUT');
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(280);
    expect(ms).toBeLessThan(1500);
    expect(fake.requests).toHaveLength(1); // the deadline covers the SDK's retries: no second attempt
  });

  it('budget: at or over the daily budget no request is sent; a new UTC day starts afresh', async () => {
    let now = new Date('2026-06-01T23:59:00Z');
    const cfg = { apiKey: 'k', baseURL: fake.url, model: 'm', maxRetries: 0, dailyTokenBudget: 100 };
    const l = new Llm(cfg, { now: () => now });
    fake.enqueue({ kind: 'tool_use', name: 'report', input: { findings: [], confidence: 1 }, usage: { input_tokens: 90, output_tokens: 20 } });
    await l.structured({ system: 's', user: 'u', tool, parse });
    expect(l.usageToday()).toEqual({ tokens: 110, budget: 100 });
    const e = await l.structured({ system: 's', user: 'u', tool, parse }).catch((x: unknown) => x as LlmError);
    expect(e).toMatchObject({ code: 'ERR_LLM_BUDGET' });
    const events: ChatEvent[] = [];
    for await (const ev of l.chat({ system: 's', messages: [{ role: 'user', content: 'hola' }], tools: [] })) events.push(ev);
    expect(events).toEqual([expect.objectContaining({ type: 'error', code: 'ERR_LLM_BUDGET' })]);
    expect(fake.requests).toHaveLength(1);
    // another instance shares the process-wide ledger
    expect(new Llm(cfg, { now: () => now }).usageToday().tokens).toBe(110);
    now = new Date('2026-06-02T00:01:00Z');
    expect(l.usageToday().tokens).toBe(0);
    fake.enqueue({ kind: 'tool_use', name: 'report', input: { findings: [], confidence: 1 } });
    await l.structured({ system: 's', user: 'u', tool, parse });
    expect(fake.requests).toHaveLength(2);
  });
});

describe('chat', () => {
  it('streams text, runs one tool round and sends the tool_result back', async () => {
    fake.enqueue(
      { kind: 'tool_use', name: 'lookup_folio', text: 'Voy a revisar. ', input: { folio: 42 }, id: 'toolu_01abc', usage: { input_tokens: 50, output_tokens: 10 } },
      { kind: 'text', text: 'El folio 42 fue aceptado por el SII.', chunkSize: 5, usage: { input_tokens: 80, output_tokens: 12 } },
    );
    const runs: unknown[] = [];
    const events: ChatEvent[] = [];
    const l = llm();
    for await (const ev of l.chat({
      system: 'Eres un asistente de facturación.',
      messages: [{ role: 'user', content: '¿Qué pasó con el folio 42?' }],
      tools: [
        {
          name: 'lookup_folio',
          description: 'Estado de un folio',
          inputSchema: { type: 'object', required: ['folio'], properties: { folio: { type: 'integer' } } },
          run: async (input) => {
            runs.push(input);
            return { folio: 42, estado: 'ACEPTADO', password: 'hunter2' };
          },
        },
      ],
    })) events.push(ev);
    expect(runs).toEqual([{ folio: 42 }]);
    const text = events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text);
    expect(text.join('')).toBe('Voy a revisar. El folio 42 fue aceptado por el SII.');
    expect(text.length).toBeGreaterThan(3); // really streamed, in pieces
    expect(events.find((e) => e.type === 'tool_call')).toEqual({ type: 'tool_call', id: 'toolu_01abc', name: 'lookup_folio', input: { folio: 42 } });
    expect(events.find((e) => e.type === 'tool_result')).toEqual({ type: 'tool_result', id: 'toolu_01abc', name: 'lookup_folio', ok: true, content: { folio: 42, estado: 'ACEPTADO', password: '[redacted]' } });
    expect(events.at(-1)).toEqual({ type: 'done', stopReason: 'end_turn', usage: { inputTokens: 130, outputTokens: 22 }, model: 'claude-test-model' });
    expect(l.usageToday().tokens).toBe(152);

    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[0]!.body.stream).toBe(true);
    const second = fake.requests[1]!.body.messages as Array<{ role: string; content: unknown }>;
    expect(second).toHaveLength(3);
    expect(second[1]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'Voy a revisar. ' }, { type: 'tool_use', id: 'toolu_01abc', name: 'lookup_folio', input: { folio: 42 } }] });
    expect(second[2]!.role).toBe('user');
    const block = (second[2]!.content as Array<Record<string, unknown>>)[0]!;
    expect(block).toMatchObject({ type: 'tool_result', tool_use_id: 'toolu_01abc' });
    expect(JSON.parse(block.content as string)).toEqual({ folio: 42, estado: 'ACEPTADO', password: '[redacted]' });
    expect(fake.requests[1]!.raw).not.toContain('hunter2');
  });

  it('a failing tool goes back to the model as is_error; after maxToolRounds tool_choice is none', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'boom', input: {} }, { kind: 'text', text: 'No pude consultarlo.' });
    const events: ChatEvent[] = [];
    const tools = [{ name: 'boom', description: 'fails', inputSchema: { type: 'object', properties: {} }, run: async () => Promise.reject(new Error('DTE service down')) }];
    for await (const ev of llm().chat({ system: 's', messages: [{ role: 'user', content: 'x' }], tools, maxToolRounds: 1 })) events.push(ev);
    expect(events.find((e) => e.type === 'tool_result')).toMatchObject({ ok: false, content: { error: 'DTE service down' } });
    const second = fake.requests[1]!.body;
    expect(second.tool_choice).toEqual({ type: 'none' });
    expect(((second.messages as Array<{ content: Array<Record<string, unknown>> }>)[2]!.content[0])!.is_error).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'done', stopReason: 'end_turn' });
  });

  it('refusal, 401 and invalid streamed tool JSON end the stream with an error event', async () => {
    const run = async (reply: Parameters<FakeAnthropic['enqueue']>[0]): Promise<ChatEvent[]> => {
      fake.enqueue(reply);
      const events: ChatEvent[] = [];
      const tools = [{ name: 't', description: 'd', inputSchema: { type: 'object' }, run: async () => 1 }];
      for await (const ev of llm().chat({ system: 's', messages: [{ role: 'user', content: 'x' }], tools })) events.push(ev);
      return events;
    };
    expect((await run({ kind: 'refusal' })).at(-1)).toMatchObject({ type: 'error', code: 'ERR_LLM_REFUSED' });
    expect((await run({ kind: 'error', status: 401 })).at(-1)).toMatchObject({ type: 'error', code: 'ERR_LLM_AUTH' });
    expect((await run({ kind: 'tool_use', name: 't', rawJson: '{"a":' })).at(-1)).toMatchObject({ type: 'error', code: 'ERR_LLM_MALFORMED' });
  });

  it('an error event in the middle of the stream → ERR_LLM_UNAVAILABLE after the text already streamed', async () => {
    fake.enqueue({ kind: 'stream_error', text: 'Empiezo a responder' });
    const events: ChatEvent[] = [];
    for await (const ev of llm().chat({ system: 's', messages: [{ role: 'user', content: 'x' }], tools: [] })) events.push(ev);
    expect(events[0]).toEqual({ type: 'text', text: 'Empiezo a responder' });
    expect(events.at(-1)).toMatchObject({ type: 'error', code: 'ERR_LLM_UNAVAILABLE' });
    expect((events.at(-1) as { message: string }).message).toMatch(/Overloaded/);
  });

  it('a stream that does not start within timeoutMs → ERR_LLM_TIMEOUT', async () => {
    fake.enqueue({ kind: 'text', text: 'tarde', delayMs: 2000 });
    const t0 = Date.now();
    const events: ChatEvent[] = [];
    for await (const ev of llm({ timeoutMs: 300 }).chat({ system: 's', messages: [{ role: 'user', content: 'x' }], tools: [] })) events.push(ev);
    expect(events).toEqual([expect.objectContaining({ type: 'error', code: 'ERR_LLM_TIMEOUT' })]);
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});

describe('secrets never reach the wire', () => {
  // A real key, generated here (no key material is committed).
  const pem = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trim();
  const pfx = 'MIIKPAIBAzCCCfYGCSqGSIb3DQEHAaCCCecEggnjMIIJ3zCCBgAGCSqGSIb3DQEHAaCCBfEEggXtMIIF6TCCBeUGCyqGSIb3DQEMCgEC'.repeat(3);
  const input = {
    folio: 15,
    rutEmisor: '76086428-5',
    certificado: { pfx_base64: pfx, password: 'SuperClave123' },
    clave_sii: 'Secreta!2026',
    api_key: 'sk-live-abc',
    notas: `firma: ${pem}`,
    adjunto: `contenido ${pfx} fin`,
    items: [{ nombre: 'Pan', private_key: 'k' }],
  };

  it('scrubSecrets redacts by key and by content, leaves the rest, does not mutate', () => {
    const s = scrubSecrets(input);
    expect(s).toEqual({
      folio: 15,
      rutEmisor: '76086428-5',
      certificado: '[redacted]',
      clave_sii: '[redacted]',
      api_key: '[redacted]',
      notas: 'firma: [redacted]',
      adjunto: 'contenido [redacted] fin',
      items: [{ nombre: 'Pan', private_key: '[redacted]' }],
    });
    expect(input.certificado.password).toBe('SuperClave123');
    expect(scrubSecrets('short base64 ABCD== stays')).toBe('short base64 ABCD== stays');
    // hostile nesting and cycles end in "[redacted]", never a stack overflow
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(JSON.stringify(scrubSecrets(deep))).toContain('[redacted]');
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    expect(scrubSecrets(cyc)).toEqual({ a: 1, self: '[redacted]' });
  });

  it('structured and chat send none of them', async () => {
    fake.enqueue({ kind: 'tool_use', name: 'report', input: { findings: [], confidence: 1 } }, { kind: 'text', text: 'ok' });
    const l = llm();
    await l.structured({ system: `contexto ${pem}`, user: JSON.stringify(scrubSecrets(input)), tool, parse });
    // even when the caller forgets to scrub: the user string's PEM and base64 still go
    for await (const ev of l.chat({ system: 's', messages: [{ role: 'user', content: `${JSON.stringify(input)}` }], tools: [] })) void ev;
    expect(fake.requests).toHaveLength(2);
    for (const r of fake.requests) {
      for (const secret of ['PRIVATE KEY', pfx.slice(0, 60), pem.split('\n')[1]!.slice(0, 40)]) expect(r.raw).not.toContain(secret);
    }
    for (const secret of ['SuperClave123', 'Secreta!2026', 'sk-live-abc']) expect(fake.requests[0]!.raw).not.toContain(secret);
  });
});

describe('validateSchema', () => {
  it('names the path of each problem', () => {
    expect(validateSchema(tool.inputSchema, { findings: [{ severity: 'fatal' }], confidence: '1' }, 'input')).toEqual([
      { path: 'input.findings[0].code', message: 'is required' },
      { path: 'input.findings[0].severity', message: 'must be one of "warning", "info"' },
      { path: 'input.confidence', message: 'expected number, got string' },
    ]);
  });
});
