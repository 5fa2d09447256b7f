/**
 * Fault injection: what the real SII does on a bad day, on demand. Rules come from the options
 * (`faults`) or at run time (`POST /sim/faults`, `DELETE /sim/faults`), and apply to the SII
 * endpoints only (never to /sim/* unless a rule's path names it).
 *
 * Kinds:
 * - `latency`: answer `latencyMs` later (default 1000).
 * - `timeout`: hold the request without answering; the socket is destroyed after `holdMs`, or when
 *   the simulator closes.
 * - `http-error`: answer `status` (default 500) with the `Error 500` page the SII's front shows.
 * - `maintenance`: answer the SII's HTML maintenance page (`status`, default 200: clients must
 *   recognise HTML, not rely on the status code).
 * - `expire-token`: the token the request carries expires now (for good), so the normal handler
 *   answers its token error (001–003 / STATUS 5 / 401).
 * - `drop-response`: the request is processed and recorded (an upload gets its track id), then the
 *   socket is destroyed without answering: "accepted but the answer was lost".
 *
 * Each rule applies to the next `count` matching requests, or with `probability` (0–1, drawn from
 * the simulator's seeded random source), or both (each of `count` applications drawn with
 * `probability`), or, with neither, to every matching request until removed.
 */

export type FaultKind = 'latency' | 'timeout' | 'http-error' | 'maintenance' | 'expire-token' | 'drop-response';

export const FAULT_KINDS: readonly FaultKind[] = ['latency', 'timeout', 'http-error', 'maintenance', 'expire-token', 'drop-response'];

export interface FaultRuleInput {
  kind: FaultKind;
  /**
   * Which requests: a substring of the URL path (`/DTEWS/QueryEstUp.jws`, `DTEUpload`), or a regular
   * expression written `/…/`. Default: every SII endpoint.
   */
  path?: string;
  /** HTTP method filter (`POST`), default any. */
  method?: string;
  /** Apply with this probability (0–1). */
  probability?: number;
  /** Apply to the next N matching requests, then the rule is removed. */
  count?: number;
  /** `latency`: extra delay, default 1000 ms. */
  latencyMs?: number;
  /** `timeout`: give up holding after this many ms (the socket is destroyed), default: until close. */
  holdMs?: number;
  /** `http-error` (default 500) and `maintenance` (default 200). */
  status?: number;
  /** `http-error` / `maintenance`: replace the body. */
  body?: string;
}

export interface FaultRule extends FaultRuleInput {
  id: string;
  /** Applications left (when `count` was given). */
  remaining?: number;
  /** Times applied so far. */
  hits: number;
}

export class FaultRuleError extends Error {}

/** Validate a rule from JSON. */
export function parseFaultRule(input: unknown, id: string): FaultRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new FaultRuleError('a fault rule is a JSON object');
  const o = input as Record<string, unknown>;
  const kind = o.kind;
  if (typeof kind !== 'string' || !FAULT_KINDS.includes(kind as FaultKind)) throw new FaultRuleError(`kind must be one of ${FAULT_KINDS.join(', ')}`);
  const rule: FaultRule = { id, kind: kind as FaultKind, hits: 0 };
  const str = (k: string): string | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '') throw new FaultRuleError(`${k} must be a non-empty string`);
    return v;
  };
  const num = (k: string, min: number, max: number, int: boolean): number | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
      throw new FaultRuleError(`${k} must be ${int ? 'an integer' : 'a number'} in [${min}, ${max}]`);
    }
    return v;
  };
  const path = str('path');
  if (path !== undefined) {
    if (path.length > 2 && path.startsWith('/') && path.endsWith('/') && path !== '/') {
      try {
        new RegExp(path.slice(1, -1));
      } catch {
        throw new FaultRuleError(`path ${path} is not a valid regular expression`);
      }
    }
    rule.path = path;
  }
  const method = str('method');
  if (method !== undefined) rule.method = method.toUpperCase();
  const probability = num('probability', 0, 1, false);
  if (probability !== undefined) rule.probability = probability;
  const count = num('count', 1, 1_000_000, true);
  if (count !== undefined) {
    rule.count = count;
    rule.remaining = count;
  }
  const latencyMs = num('latencyMs', 0, 600_000, false);
  if (latencyMs !== undefined) rule.latencyMs = latencyMs;
  const holdMs = num('holdMs', 0, 3_600_000, false);
  if (holdMs !== undefined) rule.holdMs = holdMs;
  const status = num('status', 100, 599, true);
  if (status !== undefined) rule.status = status;
  const body = o.body;
  if (body !== undefined) {
    if (typeof body !== 'string') throw new FaultRuleError('body must be a string');
    rule.body = body;
  }
  return rule;
}

/** Does the rule's path/method filter select this request? */
export function ruleMatches(rule: FaultRule, method: string, urlPath: string): boolean {
  if (rule.method && rule.method !== method.toUpperCase()) return false;
  const p = rule.path;
  if (p === undefined) return !urlPath.startsWith('/sim/');
  if (p.length > 2 && p.startsWith('/') && p.endsWith('/')) return new RegExp(p.slice(1, -1)).test(urlPath);
  return urlPath.includes(p);
}

/**
 * The rules that fire for this request, consuming counts (rules whose count is used up are removed
 * from `rules`). `random` draws the probabilities.
 */
export function selectFaults(rules: FaultRule[], method: string, urlPath: string, random: () => number): FaultRule[] {
  const fired: FaultRule[] = [];
  for (const rule of [...rules]) {
    if (!ruleMatches(rule, method, urlPath)) continue;
    if (rule.probability !== undefined && !(random() < rule.probability)) continue;
    rule.hits++;
    if (rule.remaining !== undefined) {
      rule.remaining--;
      if (rule.remaining <= 0) rules.splice(rules.indexOf(rule), 1);
    }
    fired.push(rule);
  }
  return fired;
}
