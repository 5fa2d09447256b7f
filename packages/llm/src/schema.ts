/**
 * A small validator for the JSON Schema subset our tool schemas use (type, properties, required,
 * additionalProperties: false, items, enum, minimum/maximum, minLength/maxLength, minItems/maxItems).
 * The model's tool input is untrusted: a wrong type or a missing field is `ERR_LLM_MALFORMED`, with
 * the path, before any caller sees it. Hand-written so the package needs no validator dependency.
 */

export interface SchemaProblem {
  path: string;
  message: string;
}

type Schema = Record<string, unknown>;

/** The first problems (at most 10) of `value` against `schema`; empty: valid. */
export function validateSchema(schema: Schema, value: unknown, path = ''): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  check(schema, value, path || '$', out);
  return out.slice(0, 10);
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want: string, v: unknown): boolean {
  const got = typeOf(v);
  return want === got || (want === 'number' && got === 'integer');
}

function check(schema: Schema, v: unknown, path: string, out: SchemaProblem[]): void {
  if (out.length >= 10) return;
  const t = schema.type;
  if (t !== undefined) {
    const types = Array.isArray(t) ? (t as string[]) : [t as string];
    if (!types.some((w) => typeMatches(w, v))) {
      out.push({ path, message: `expected ${types.join(' | ')}, got ${typeOf(v)}` });
      return;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => e === v)) {
    out.push({ path, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}` });
    return;
  }
  if (typeof v === 'number') {
    if (typeof schema.minimum === 'number' && v < schema.minimum) out.push({ path, message: `must be ≥ ${schema.minimum}` });
    if (typeof schema.maximum === 'number' && v > schema.maximum) out.push({ path, message: `must be ≤ ${schema.maximum}` });
  }
  if (typeof v === 'string') {
    if (typeof schema.minLength === 'number' && v.length < schema.minLength) out.push({ path, message: `must have at least ${schema.minLength} characters` });
    if (typeof schema.maxLength === 'number' && v.length > schema.maxLength) out.push({ path, message: `must have at most ${schema.maxLength} characters` });
  }
  if (Array.isArray(v)) {
    if (typeof schema.minItems === 'number' && v.length < schema.minItems) out.push({ path, message: `must have at least ${schema.minItems} items` });
    if (typeof schema.maxItems === 'number' && v.length > schema.maxItems) out.push({ path, message: `must have at most ${schema.maxItems} items` });
    const items = schema.items;
    if (items !== null && typeof items === 'object' && !Array.isArray(items)) v.forEach((x, i) => check(items as Schema, x, `${path}[${i}]`, out));
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of Array.isArray(schema.required) ? (schema.required as string[]) : []) {
      if (!(r in o)) out.push({ path: `${path}.${r}`, message: 'is required' });
    }
    for (const [k, x] of Object.entries(o)) {
      const p = props[k];
      if (p !== undefined) check(p, x, `${path}.${k}`, out);
      else if (schema.additionalProperties === false) out.push({ path: `${path}.${k}`, message: 'is not allowed' });
      else if (schema.additionalProperties !== null && typeof schema.additionalProperties === 'object') check(schema.additionalProperties as Schema, x, `${path}.${k}`, out);
    }
  }
}
