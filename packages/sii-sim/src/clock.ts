/**
 * Time and identifiers. Everything time-dependent in the simulator (seed and token expiry, the
 * envío status timeline, the 900 s duplicate window, the RCV 8-day window, CAF dates) reads one
 * injectable clock, so tests can move time instead of sleeping. Identifiers (seeds, tokens, track
 * ids) come from one source that is deterministic when a seed is given.
 */
import { siiDate, siiTimestamp } from '@timbre/dte';
import { randomInt } from 'node:crypto';

/** The simulator's notion of "now", in epoch milliseconds. `Date` itself satisfies it. */
export interface SimClock {
  now(): number;
}

export const systemClock: SimClock = { now: () => Date.now() };

/**
 * A clock that only moves when told to.
 *
 * @example
 * ```ts
 * const clock = new ManualClock('2026-11-27T13:00:00Z');
 * const sim = createSimulator({ clock });
 * clock.advance(9 * 24 * 3600_000); // the RCV 8-day window has passed
 * ```
 */
export class ManualClock implements SimClock {
  private t: number;
  constructor(start: Date | number | string = Date.now()) {
    this.t = toMillis(start);
  }
  now(): number {
    return this.t;
  }
  set(at: Date | number | string): void {
    this.t = toMillis(at);
  }
  advance(ms: number): void {
    if (!Number.isFinite(ms)) throw new TypeError(`ManualClock.advance: ${ms} is not a number of milliseconds`);
    this.t += ms;
  }
}

function toMillis(at: Date | number | string): number {
  const t = at instanceof Date ? at.getTime() : typeof at === 'number' ? at : Date.parse(at);
  if (!Number.isFinite(t)) throw new TypeError(`not a moment: ${String(at)}`);
  return t;
}

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/**
 * Random numbers for identifiers and fault probabilities: crypto-random by default, a seeded
 * generator (sfc32 over a hash of the seed) when the simulator is given `seed`, so that two runs
 * with the same seed and the same requests hand out the same seeds, tokens and track ids.
 */
export class IdSource {
  private readonly next: () => number;
  constructor(seed?: number | string) {
    if (seed === undefined) {
      this.next = () => randomInt(0, 2 ** 32) / 2 ** 32;
    } else {
      this.next = sfc32(...hashSeed(String(seed)));
    }
  }
  /** Uniform in [0, 1). */
  random(): number {
    return this.next();
  }
  /** Uniform integer in [min, max). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min));
  }
  /** `n` decimal digits, leading zeros allowed. */
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(0, 10));
    return s;
  }
  /** `n` characters of upper-case letters and digits (the shape of SII tokens, e.g. `WFSYRDEJWOAW0`). */
  token(n = 13): string {
    let s = '';
    for (let i = 0; i < n; i++) s += TOKEN_ALPHABET[this.int(0, TOKEN_ALPHABET.length)];
    return s;
  }
}

function hashSeed(s: string): [number, number, number, number] {
  // cyrb128
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < s.length; i++) {
    const k = s.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** Chilean local time parts of an instant. */
export function chileParts(ms: number): { y: string; mo: string; d: string; h: string; mi: string; s: string } {
  const t = siiTimestamp(new Date(ms)); // YYYY-MM-DDTHH:MM:SS
  return { y: t.slice(0, 4), mo: t.slice(5, 7), d: t.slice(8, 10), h: t.slice(11, 13), mi: t.slice(14, 16), s: t.slice(17, 19) };
}

/** `2026-11-27 10:15:00` in Chile (RECEPCIONDTE TIMESTAMP, boleta fecha_recepcion). */
export function chileDateTime(ms: number): string {
  return siiTimestamp(new Date(ms)).replace('T', ' ');
}

/** `2026-11-27` in Chile. */
export function chileDate(ms: number): string {
  return siiDate(siiTimestamp(new Date(ms)));
}

/** Whole calendar days from date a to date b (`YYYY-MM-DD`). */
export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}

/** The configured clock plus an offset that `POST /sim/clock` can move (for out-of-process clients). */
export class ShiftedClock implements SimClock {
  offsetMs = 0;
  constructor(private readonly inner: SimClock) {}
  now(): number {
    return this.inner.now() + this.offsetMs;
  }
}
