// Shared by the benchmarks: calls per second of fn, best of 3 rounds after a warm-up. fn(i) may
// return a promise (awaited). Run in one thread, so a rate is per core.
export async function rateAsync(fn, { seconds = 2, warmup = 20, chunk = 10 } = {}) {
  for (let i = 0; i < warmup; i++) await fn(i);
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < (seconds * 1e9) / 3) {
      for (let i = 0; i < chunk; i++) await fn(n++);
      elapsed = Number(process.hrtime.bigint() - t0);
    }
    best = Math.max(best, n / (elapsed / 1e9));
  }
  return best;
}

/** The same for synchronous work (no await between calls, so nothing else is measured). */
export function rate(fn, { seconds = 2, warmup = 30, chunk = 20 } = {}) {
  for (let i = 0; i < warmup; i++) fn(i);
  let best = 0;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const t0 = process.hrtime.bigint();
    let elapsed = 0;
    while (elapsed < (seconds * 1e9) / 3) {
      for (let i = 0; i < chunk; i++) fn(n++);
      elapsed = Number(process.hrtime.bigint() - t0);
    }
    best = Math.max(best, n / (elapsed / 1e9));
  }
  return best;
}
