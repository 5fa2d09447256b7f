/**
 * `Llm`: the one way Timbre talks to Claude, through the official SDK (`@anthropic-ai/sdk`).
 * Two calls: `structured` (one forced tool call whose input is validated: Claude's answer as data)
 * and `chat` (streamed text with a tool loop). Both scrub secrets from everything they send, stop
 * at the daily token budget before calling, and turn every failure into an `LlmError` code.
 *
 * Timeouts: `timeoutMs` bounds a whole `structured` call, the SDK's retries included (a caller that
 * falls back to a deterministic answer wants it in about `timeoutMs`, not (retries+1)×). In `chat`
 * it bounds each round until the stream starts, and every silence between stream events after that.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { MessageCreateParamsNonStreaming, MessageParam, RawMessageStreamEvent, ToolResultBlockParam } from '@anthropic-ai/sdk/resources/messages/messages';
import { LlmError, toLlmError } from './errors.js';
import { validateSchema } from './schema.js';
import { scrubSecrets } from './scrub.js';

/**
 * Claude Sonnet 5: the models overview's "best combination of speed and intelligence", and (unlike
 * the always-thinking 5.5 generation) it accepts a forced `tool_choice`, which `structured` needs.
 */
export const DEFAULT_MODEL = 'claude-sonnet-5';

export interface LlmConfig {
  apiKey: string;
  /** Anthropic's API root (tests: the fake server's url). Default https://api.anthropic.com. */
  baseURL?: string;
  model: string;
  /** Default 30000. */
  timeoutMs?: number;
  /** SDK retries for 408/409/429/5xx and connection errors. Default 2. */
  maxRetries?: number;
  /** max_tokens per request. Default 2048. */
  maxTokens?: number;
  /** Input + output tokens per UTC day, process-wide; undefined: unlimited. */
  dailyTokenBudget?: number;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface ChatTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  run(input: unknown, signal?: AbortSignal): Promise<unknown>;
}

export type ChatEvent =
  | { type: 'text'; text: string }
  | { type: 'tool_call'; id: string; name: string; input: unknown }
  | { type: 'tool_result'; id: string; name: string; ok: boolean; content: unknown }
  | { type: 'done'; stopReason: string; usage: Usage; model: string }
  | { type: 'error'; code: LlmError['code']; message: string };

export interface StructuredRequest<T> {
  system: string;
  user: string;
  tool: { name: string; description: string; inputSchema: Record<string, unknown> };
  parse: (input: unknown) => T;
  maxTokens?: number;
  signal?: AbortSignal;
}

export interface ChatRequest {
  system: string;
  messages: Array<{ role: 'user' | 'assistant'; content: string }>;
  tools: ChatTool[];
  maxTokens?: number;
  maxToolRounds?: number;
  signal?: AbortSignal;
}

/** Tokens used per UTC day, shared by every Llm of the process (the budget is the account's). */
const ledger = new Map<string, number>();

export class Llm {
  readonly model: string;
  private readonly client: Anthropic;
  private readonly timeoutMs: number;
  private readonly maxTokens: number;
  private readonly budget: number | undefined;
  private readonly now: () => Date;

  constructor(config: LlmConfig, opts: { now?: () => Date } = {}) {
    if (typeof config.apiKey !== 'string' || config.apiKey === '') throw new LlmError('ERR_LLM_AUTH', 'apiKey is required');
    this.model = config.model || DEFAULT_MODEL;
    this.timeoutMs = config.timeoutMs ?? 30_000;
    this.maxTokens = config.maxTokens ?? 2048;
    this.budget = config.dailyTokenBudget;
    this.now = opts.now ?? (() => new Date());
    this.client = new Anthropic({
      apiKey: config.apiKey,
      ...(config.baseURL !== undefined ? { baseURL: config.baseURL } : {}),
      maxRetries: config.maxRetries ?? 2,
      timeout: this.timeoutMs,
    });
  }

  usageToday(): { tokens: number; budget: number | undefined } {
    return { tokens: ledger.get(this.day()) ?? 0, budget: this.budget };
  }

  async structured<T>(req: StructuredRequest<T>): Promise<{ value: T; usage: Usage; model: string }> {
    this.checkBudget();
    const deadline = AbortSignal.timeout(this.timeoutMs);
    const signal = req.signal ? AbortSignal.any([deadline, req.signal]) : deadline;
    const params: MessageCreateParamsNonStreaming = {
      model: this.model,
      max_tokens: req.maxTokens ?? this.maxTokens,
      system: scrubSecrets(req.system),
      messages: [{ role: 'user', content: scrubSecrets(req.user) }],
      tools: [{ name: req.tool.name, description: req.tool.description, input_schema: { type: 'object', ...req.tool.inputSchema } }],
      tool_choice: { type: 'tool', name: req.tool.name },
    };
    let message: Anthropic.Message;
    try {
      message = await this.client.messages.create(params, { signal });
    } catch (err) {
      throw toLlmError(err, deadline);
    }
    const usage = { inputTokens: message.usage?.input_tokens ?? 0, outputTokens: message.usage?.output_tokens ?? 0 };
    this.record(usage);
    if (message.stop_reason === 'refusal') throw new LlmError('ERR_LLM_REFUSED', 'the model declined to answer (stop_reason "refusal")');
    const block = message.content.find((b) => b.type === 'tool_use' && b.name === req.tool.name);
    if (block === undefined || block.type !== 'tool_use') {
      throw new LlmError('ERR_LLM_MALFORMED', `the model did not call ${req.tool.name} (stop_reason ${JSON.stringify(message.stop_reason)})`);
    }
    const problems = validateSchema({ type: 'object', ...req.tool.inputSchema }, block.input, 'input');
    if (problems.length > 0) {
      const first = problems.map((p) => `${p.path} ${p.message}`).slice(0, 3).join('; ');
      throw new LlmError('ERR_LLM_MALFORMED', `the tool input does not match its schema: ${first}${message.stop_reason === 'max_tokens' ? ' (output cut at max_tokens)' : ''}`);
    }
    let value: T;
    try {
      value = req.parse(block.input);
    } catch (err) {
      throw new LlmError('ERR_LLM_MALFORMED', `the tool input was rejected: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    return { value, usage, model: message.model || this.model };
  }

  chat(req: ChatRequest): AsyncIterable<ChatEvent> {
    return this.runChat(req);
  }

  private async *runChat(req: ChatRequest): AsyncGenerator<ChatEvent> {
    const maxRounds = req.maxToolRounds ?? 4;
    const tools = new Map(req.tools.map((t) => [t.name, t]));
    const messages: MessageParam[] = req.messages.map((m) => ({ role: m.role, content: scrubSecrets(m.content) }));
    const total: Usage = { inputTokens: 0, outputTokens: 0 };
    let model = this.model;
    for (let round = 0; ; round++) {
      try {
        this.checkBudget();
      } catch (err) {
        yield errorEvent(toLlmError(err));
        return;
      }
      // After maxRounds tool rounds the model must answer in words (tool_choice none).
      const mustAnswer = round >= maxRounds;
      const idle = new AbortController();
      const signal = req.signal ? AbortSignal.any([idle.signal, req.signal]) : idle.signal;
      let timer = setTimeout(() => idle.abort(), this.timeoutMs);
      const blocks: Array<{ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; json: string; input?: unknown }> = [];
      let stopReason = 'end_turn';
      const usage: Usage = { inputTokens: 0, outputTokens: 0 };
      try {
        const stream = await this.client.messages.create(
          {
            model: this.model,
            max_tokens: req.maxTokens ?? this.maxTokens,
            system: scrubSecrets(req.system),
            messages,
            ...(req.tools.length > 0
              ? {
                  tools: req.tools.map((t) => ({ name: t.name, description: t.description, input_schema: { type: 'object' as const, ...t.inputSchema } })),
                  tool_choice: mustAnswer ? { type: 'none' as const } : { type: 'auto' as const },
                }
              : {}),
            stream: true,
          },
          { signal },
        );
        for await (const ev of stream as AsyncIterable<RawMessageStreamEvent>) {
          clearTimeout(timer);
          timer = setTimeout(() => idle.abort(), this.timeoutMs);
          switch (ev.type) {
            case 'message_start':
              model = ev.message.model || model;
              usage.inputTokens = ev.message.usage?.input_tokens ?? 0;
              usage.outputTokens = ev.message.usage?.output_tokens ?? 0;
              break;
            case 'content_block_start':
              if (ev.content_block.type === 'text') {
                blocks[ev.index] = { type: 'text', text: ev.content_block.text };
                if (ev.content_block.text) yield { type: 'text', text: ev.content_block.text };
              } else if (ev.content_block.type === 'tool_use') {
                blocks[ev.index] = { type: 'tool_use', id: ev.content_block.id, name: ev.content_block.name, json: '' };
              }
              break;
            case 'content_block_delta': {
              const b = blocks[ev.index];
              if (ev.delta.type === 'text_delta' && b?.type === 'text') {
                b.text += ev.delta.text;
                yield { type: 'text', text: ev.delta.text };
              } else if (ev.delta.type === 'input_json_delta' && b?.type === 'tool_use') {
                b.json += ev.delta.partial_json;
              }
              break;
            }
            case 'content_block_stop': {
              const b = blocks[ev.index];
              if (b?.type === 'tool_use') {
                try {
                  b.input = b.json.trim() === '' ? {} : (JSON.parse(b.json) as unknown);
                } catch {
                  throw new LlmError('ERR_LLM_MALFORMED', `the model sent invalid JSON as ${b.name}'s input`);
                }
              }
              break;
            }
            case 'message_delta':
              if (ev.delta.stop_reason) stopReason = ev.delta.stop_reason;
              // message_delta's usage is cumulative for the message
              if (typeof ev.usage?.output_tokens === 'number') usage.outputTokens = ev.usage.output_tokens;
              if (typeof ev.usage?.input_tokens === 'number') usage.inputTokens = ev.usage.input_tokens;
              break;
            default:
              break;
          }
        }
      } catch (err) {
        clearTimeout(timer);
        this.record(usage);
        yield errorEvent(toLlmError(err, idle.signal));
        return;
      }
      clearTimeout(timer);
      this.record(usage);
      total.inputTokens += usage.inputTokens;
      total.outputTokens += usage.outputTokens;
      if (stopReason === 'refusal') {
        yield { type: 'error', code: 'ERR_LLM_REFUSED', message: 'the model declined to answer (stop_reason "refusal")' };
        return;
      }
      const calls = blocks.filter((b): b is Extract<(typeof blocks)[number], { type: 'tool_use' }> => b?.type === 'tool_use');
      if (stopReason !== 'tool_use' || calls.length === 0) {
        yield { type: 'done', stopReason, usage: total, model };
        return;
      }
      messages.push({
        role: 'assistant',
        content: blocks
          .filter((b) => b !== undefined && (b.type === 'tool_use' || b.text !== ''))
          .map((b) => (b.type === 'text' ? { type: 'text' as const, text: b.text } : { type: 'tool_use' as const, id: b.id, name: b.name, input: b.input ?? {} })),
      });
      const results: ToolResultBlockParam[] = [];
      for (const call of calls) {
        yield { type: 'tool_call', id: call.id, name: call.name, input: call.input };
        const { ok, content } = await runTool(tools.get(call.name), call.name, call.input, req.signal);
        const safe = scrubSecrets(content);
        yield { type: 'tool_result', id: call.id, name: call.name, ok, content: safe };
        results.push({ type: 'tool_result', tool_use_id: call.id, content: typeof safe === 'string' ? safe : JSON.stringify(safe), ...(ok ? {} : { is_error: true }) });
      }
      messages.push({ role: 'user', content: results });
    }
  }

  private day(): string {
    return this.now().toISOString().slice(0, 10);
  }

  private checkBudget(): void {
    if (this.budget === undefined) return;
    const used = ledger.get(this.day()) ?? 0;
    if (used >= this.budget) throw new LlmError('ERR_LLM_BUDGET', `daily token budget spent (${used} of ${this.budget} tokens, UTC day ${this.day()})`);
  }

  private record(u: Usage): void {
    const d = this.day();
    ledger.set(d, (ledger.get(d) ?? 0) + u.inputTokens + u.outputTokens);
  }
}

function errorEvent(e: LlmError): ChatEvent {
  return { type: 'error', code: e.code, message: e.message };
}

/** Runs one tool call; its failures go back to the model as `is_error` results, not to the caller. */
async function runTool(tool: ChatTool | undefined, name: string, input: unknown, signal?: AbortSignal): Promise<{ ok: boolean; content: unknown }> {
  if (tool === undefined) return { ok: false, content: { error: `unknown tool ${name}` } };
  const problems = validateSchema({ type: 'object', ...tool.inputSchema }, input, 'input');
  if (problems.length > 0) return { ok: false, content: { error: 'invalid input', problems } };
  try {
    return { ok: true, content: await tool.run(input, signal) };
  } catch (err) {
    return { ok: false, content: { error: err instanceof Error ? err.message : String(err) } };
  }
}
