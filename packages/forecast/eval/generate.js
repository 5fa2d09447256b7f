#!/usr/bin/env node
/**
 * Builds the labelled evaluation sets: eval/data/series-NN.json (run after `npm run build`):
 *   node packages/forecast/eval/generate.js [--count 40] [--days 500] [--seed 20261204]
 *
 * Each series is daily folio usage from 2024-07-01 with a known generating process, stored with it
 * (`params`, the noise-free `mean`) so the sets are labelled:
 * - volume level: one of 2, 5, 15, 40, 120, 400 folios/day on weekdays (small counts included);
 * - weekly pattern: Mon–Fri factors around 1 (±15 %), Saturday 0.05–0.6, Sunday 0–0.3;
 * - month-end peak: the last 3 business days × 1.2–2.5;
 * - Chilean national holidays (@timbre/forecast's calendar) × 0–0.1;
 * - trend: piecewise linear in log-level, 1–2 change points, slopes −0.2 %…+0.3 % per day;
 * - level shift (probability 0.35): × 0.6–1.6 at a random day in the middle 60 %;
 * - noise: Poisson (1/3 of series) or negative binomial (gamma–Poisson, dispersion k 3–20).
 * Deterministic: mulberry32 seeded with seed + index.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { calendarFeatures, mulberry32 } from '../dist/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const COUNT = arg('count', 40);
const DAYS = arg('days', 500);
const SEED = arg('seed', 20261204);
const START = '2024-07-01';
const start = Date.UTC(2024, 6, 1) / 86_400_000;

function gaussian(r) {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}
// Marsaglia–Tsang gamma(shape, 1)
function gamma(r, k) {
  if (k < 1) return gamma(r, k + 1) * r() ** (1 / k);
  const d = k - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x, v;
    do { x = gaussian(r); v = 1 + c * x; } while (v <= 0);
    v = v ** 3;
    const u = r();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}
function poisson(r, lambda) {
  if (lambda <= 0) return 0;
  if (lambda > 60) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gaussian(r)));
  const L = Math.exp(-lambda);
  let k = 0, p = 1;
  do { k++; p *= r(); } while (p > L);
  return k - 1;
}

const LEVELS = [2, 5, 15, 40, 120, 400];
const dir = path.join(here, 'data');
mkdirSync(dir, { recursive: true });
for (let s = 0; s < COUNT; s++) {
  const r = mulberry32(SEED + s);
  const u = (a, b) => a + (b - a) * r();
  const level = LEVELS[s % LEVELS.length] * u(0.8, 1.25);
  const dow = [u(0, 0.3), u(0.85, 1.15), u(0.85, 1.15), u(0.85, 1.15), u(0.85, 1.15), u(0.85, 1.15), u(0.05, 0.6)];
  const monthEnd = u(1.2, 2.5);
  const holiday = u(0, 0.1);
  const nChanges = 1 + Math.floor(r() * 2);
  const changes = Array.from({ length: nChanges }, () => Math.floor(u(0.15, 0.9) * DAYS)).sort((a, b) => a - b);
  const slopes = Array.from({ length: nChanges + 1 }, () => u(-0.002, 0.003));
  const shift = r() < 0.35 ? { day: Math.floor(u(0.2, 0.8) * DAYS), factor: u(0.6, 1.6) } : null;
  const noise = s % 3 === 0 ? { kind: 'poisson' } : { kind: 'negbin', k: u(3, 20) };
  const mean = [];
  const counts = [];
  let logTrend = 0;
  for (let i = 0; i < DAYS; i++) {
    if (i > 0) logTrend += slopes[changes.filter((c) => c <= i).length];
    const [d, , , isHol, isMe] = calendarFeatures(start + i);
    let m = level * Math.exp(logTrend) * dow[d] * (isMe ? monthEnd : 1) * (isHol ? holiday : 1);
    if (shift && i >= shift.day) m *= shift.factor;
    mean.push(Math.round(m * 1000) / 1000);
    const lambda = noise.kind === 'poisson' ? m : m * gamma(r, noise.k) / noise.k;
    counts.push(poisson(r, lambda));
  }
  const id = `series-${String(s + 1).padStart(2, '0')}`;
  const round = (x) => Math.round(x * 1000) / 1000;
  const params = { level: round(level), dow: dow.map(round), monthEnd: round(monthEnd), holiday: round(holiday), changes, slopes: slopes.map((x) => round(x)), shift: shift && { day: shift.day, factor: round(shift.factor) }, noise: noise.kind === 'poisson' ? noise : { kind: 'negbin', k: round(noise.k) } };
  writeFileSync(path.join(dir, `${id}.json`), JSON.stringify({ id, seed: SEED + s, start: START, params, counts, mean }) + '\n');
}
console.log(`wrote ${COUNT} series × ${DAYS} days to ${path.relative(process.cwd(), dir)}`);
