/**
 * What the chat route needs from a language model: `@timbre/llm`'s `Llm` satisfies `ChatModel`; tests
 * drive the route through the real `Llm` against the fake Anthropic server, or through any object of
 * this shape.
 */
import type { ChatEvent, ChatRequest, ChatTool } from '@timbre/llm';

export type { ChatEvent, ChatRequest, ChatTool };

export interface ChatModel {
  readonly model: string;
  chat(req: ChatRequest): AsyncIterable<ChatEvent>;
}
