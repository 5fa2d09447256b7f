/**
 * The shapes the chat route needs from a language model: exactly `@timbre/llm`'s `Llm.chat`,
 * `ChatTool` and `ChatEvent`, restated structurally so the route builds and runs its offline path
 * (retrieval only) without that package, and tests can drive it through the real `Llm` against the
 * fake Anthropic server.
 */

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
  | { type: 'done'; stopReason: string; usage: { inputTokens: number; outputTokens: number }; model: string }
  | { type: 'error'; code: string; message: string };

export interface ChatRequest {
  system: string;
  messages: Array<{ role: 'user' | 'assistant'; content: string }>;
  tools: ChatTool[];
  maxTokens?: number;
  maxToolRounds?: number;
  signal?: AbortSignal;
}

/** What the route calls: `@timbre/llm`'s `Llm` satisfies it. */
export interface ChatModel {
  readonly model: string;
  chat(req: ChatRequest): AsyncIterable<ChatEvent>;
}
