import { TimbreError } from './errors.js';

/** SiiTypes_v10.xsd RUTType: `^[0-9]+-([0-9]|K)$`, 3..10 chars, no dots, upper-case K. */
export const RUT_PATTERN = /^[0-9]{1,8}-[0-9K]$/;
/** Same rule in JSON-Schema/OpenAPI form, reused by route and input schemas. */
export const RUT_JSON_SCHEMA_PATTERN = '^[0-9]{1,8}-[0-9Kk]$';

/** The SII's own RUT: RutReceptor of every envelope sent to the SII (CRT-3-18 otherwise). */
export const RUT_SII = '60803000-K';
/** Generic receptor allowed only on boletas. */
export const RUT_GENERIC_BOLETA = '66666666-6';

/** Modulo-11 check digit of the numeric part. */
export function computeDv(digits: number | string): string {
  const s = String(digits);
  let sum = 0;
  let factor = 2;
  for (let i = s.length - 1; i >= 0; i--) {
    sum += (s.charCodeAt(i) - 48) * factor;
    factor = factor === 7 ? 2 : factor + 1;
  }
  const r = 11 - (sum % 11);
  return r === 11 ? '0' : r === 10 ? 'K' : String(r);
}

export class Rut {
  private constructor(
    readonly digits: number,
    readonly dv: string,
  ) {}

  /**
   * Accepts `76.086.428-5`, ` 76086428-5 `, `760864285`, `96874030-k`; stores the canonical form.
   * Throws ERR_RUT_INVALID for malformed input, and for a wrong check digit unless validateDv=false.
   */
  static parse(input: string, options: { validateDv?: boolean; field?: string } = {}): Rut {
    const { validateDv = true, field } = options;
    const raw = typeof input === 'string' ? input : String(input);
    const cleaned = raw.trim().replace(/[.\s]/g, '').toUpperCase();
    let body: string;
    let dv: string;
    const dash = cleaned.lastIndexOf('-');
    if (dash >= 0) {
      body = cleaned.slice(0, dash);
      dv = cleaned.slice(dash + 1);
    } else {
      body = cleaned.slice(0, -1);
      dv = cleaned.slice(-1);
    }
    body = body.replace(/^0+(?=\d)/, '');
    if (!/^[0-9]{1,8}$/.test(body) || !/^[0-9K]$/.test(dv)) {
      throw new TimbreError('ERR_RUT_INVALID', `RUT "${raw}" is not of the form 12345678-9`, optField(field, raw));
    }
    const expected = computeDv(body);
    if (validateDv && expected !== dv) {
      throw new TimbreError('ERR_RUT_INVALID', `RUT "${raw}" has check digit ${dv}, expected ${expected}`, {
        ...optField(field, raw),
        expected: `${body}-${expected}`,
      });
    }
    return new Rut(Number(body), dv);
  }

  static isValid(input: string): boolean {
    try {
      Rut.parse(input);
      return true;
    } catch {
      return false;
    }
  }

  /** `76086428-5`: the form every SII XML field uses. */
  get canonical(): string {
    return `${this.digits}-${this.dv}`;
  }

  /** `76.086.428-5`: the printed form. */
  get verbose(): string {
    return `${String(this.digits).replace(/\B(?=(\d{3})+(?!\d))/g, '.')}-${this.dv}`;
  }

  toString(): string {
    return this.canonical;
  }

  equals(other: Rut | string): boolean {
    const o = typeof other === 'string' ? Rut.parse(other, { validateDv: false }) : other;
    return o.digits === this.digits && o.dv === this.dv;
  }
}

function optField(field: string | undefined, actual: string) {
  return field === undefined ? { actual } : { field, actual };
}

/** Canonical form of a RUT string (throws on malformed or wrong DV). */
export const normalizeRut = (input: string, field?: string): string =>
  Rut.parse(input, field === undefined ? {} : { field }).canonical;
