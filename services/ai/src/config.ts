/**
 * The AI service's settings read from the environment by server.ts (and `npm start`'s stack).
 * Claude is used when ANTHROPIC_API_KEY is set; the other variables tune it.
 */
import { DEFAULT_MODEL, type LlmConfig } from '@timbre/llm';

/** ANTHROPIC_API_KEY set → Claude; otherwise undefined (the deterministic engine alone). Bad numbers fail the start. */
export function llmConfigFromEnv(env: NodeJS.ProcessEnv): LlmConfig | undefined {
  const apiKey = env.ANTHROPIC_API_KEY?.trim();
  if (!apiKey) return undefined;
  const int = (name: string, min: number): number | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const timeoutMs = int('TIMBRE_AI_TIMEOUT_MS', 1);
  const maxRetries = int('TIMBRE_AI_MAX_RETRIES', 0);
  const dailyTokenBudget = int('TIMBRE_AI_DAILY_TOKEN_BUDGET', 0);
  return {
    apiKey,
    model: env.TIMBRE_AI_MODEL?.trim() || DEFAULT_MODEL,
    ...(env.ANTHROPIC_BASE_URL?.trim() ? { baseURL: env.ANTHROPIC_BASE_URL.trim() } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(maxRetries !== undefined ? { maxRetries } : {}),
    ...(dailyTokenBudget !== undefined ? { dailyTokenBudget } : {}),
  };
}
