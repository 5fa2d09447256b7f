/**
 * @timbre/llm: Claude for Timbre (structured output by forced tool use, streamed chat with tools,
 * timeouts, retries, a daily token budget, secret scrubbing). Test support: `@timbre/llm/testing`.
 */
export { DEFAULT_MODEL, Llm, type ChatEvent, type ChatRequest, type ChatTool, type LlmConfig, type StructuredRequest, type Usage } from './llm.js';
export { LlmError, type LlmErrorCode } from './errors.js';
export { REDACTED, isSecretKey, scrubSecrets } from './scrub.js';
export { validateSchema, type SchemaProblem } from './schema.js';
