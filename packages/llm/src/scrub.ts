/**
 * `scrubSecrets`: what may leave the process towards a model. DTE payloads travel next to the
 * company's signing certificate, its password and CAF private keys; none of that may reach
 * Anthropic, whatever a caller forgot to remove. Keys that name a secret lose their value, and
 * strings lose PEM blocks and long base64 runs (a PFX, a CAF, a signature) wherever they hide.
 */

const SECRET_KEY = /password|passwd|clave|contrase(?:ñ|n)a|secret|token|api[_-]?key|private[_-]?key|cert|pfx|p12|caf[_-]?xml/i;
const PEM = /-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g;
/** 200+ base64 characters, line breaks allowed (PEM bodies and XML-wrapped base64 are folded). */
const BASE64_RUN = /[A-Za-z0-9+/\r\n]{200,}={0,2}/g;
export const REDACTED = '[redacted]';

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export function scrubString(s: string): string {
  return s.replace(PEM, REDACTED).replace(BASE64_RUN, (m) => (m.replace(/[\r\n]/g, '').length >= 200 ? REDACTED : m));
}

/** Deeper than this is not data a model needs (and recursion must stay bounded). */
const MAX_DEPTH = 64;

/** Deep copy with secrets removed (see the module comment). Cycles and nesting past 64 levels become "[redacted]". */
export function scrubSecrets<T>(value: T): T {
  return scrub(value, new WeakSet(), 0) as T;
}

function scrub(value: unknown, seen: WeakSet<object>, depth: number): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value) || depth >= MAX_DEPTH) return REDACTED;
  seen.add(value);
  let out: unknown;
  if (Array.isArray(value)) {
    out = value.map((v) => scrub(v, seen, depth + 1));
  } else if (value instanceof Date) {
    out = new Date(value.getTime());
  } else if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
    out = REDACTED; // raw bytes are key material more often than not (PFX, DER)
  } else {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) o[k] = isSecretKey(k) && v !== null && v !== undefined ? REDACTED : scrub(v, seen, depth + 1);
    out = o;
  }
  seen.delete(value);
  return out;
}
