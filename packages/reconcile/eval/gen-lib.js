/**
 * What both evaluation generators (generate.js, generate-adversarial.js) need: a seeded PRNG,
 * Chilean RUT check digits and formatting, date arithmetic, and the `--seed` / `--out` arguments.
 */
import path from 'node:path';

/** mulberry32: a small, fast, seedable PRNG (same sequence for the same seed, on every machine). */
export function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The RUT check digit (módulo 11): '0'–'9' or 'K'. */
export function dv(n) {
  let s = 0;
  let f = 2;
  for (const c of String(n).split('').reverse()) {
    s += Number(c) * f;
    f = f === 7 ? 2 : f + 1;
  }
  const r = 11 - (s % 11);
  return r === 11 ? '0' : r === 10 ? 'K' : String(r);
}

/** 76086428 → '76.086.428'. */
export const dots = (d) => String(d).replace(/\B(?=(\d{3})+(?!\d))/g, '.');

export const addDays = (date, n) => new Date(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

/** `--seed N` (default `defaultSeed`) and `--out DIR` (default `defaultOut`) from argv. */
export function generatorArgs(argv, defaultSeed, defaultOut) {
  const si = argv.indexOf('--seed');
  const oi = argv.indexOf('--out');
  return { seed: si > 0 ? Number(argv[si + 1]) : defaultSeed, out: oi > 0 ? path.resolve(argv[oi + 1]) : defaultOut };
}
