import { describe, expect, it } from 'vitest';
import { divideRound, formatDecimal, hasAtMostDecimals, multiplyRound, percentOf, roundHalfAway, sumRound } from '../src/amounts.js';
import { TimbreError } from '../src/errors.js';

describe('roundHalfAway', () => {
  it('rounds halves away from zero, also for negatives (where Math.round goes toward +∞)', () => {
    expect(roundHalfAway(2.5)).toBe(3);
    expect(roundHalfAway(-2.5)).toBe(-3);
    expect(Math.round(-2.5)).toBe(-2); // the trap this module exists for
    expect(roundHalfAway(0.5)).toBe(1);
    expect(roundHalfAway(-0.5)).toBe(-1);
    expect(roundHalfAway(-2346.5)).toBe(-2347);
    expect(roundHalfAway(-2346.49)).toBe(-2346);
    expect(roundHalfAway(2.4999)).toBe(2);
  });

  it('rounds the decimal a person wrote, not its binary approximation', () => {
    // 1.005 is 1.00499999999999989… as a double; toFixed(2) gives "1.00".
    expect((1.005).toFixed(2)).toBe('1.00');
    expect(roundHalfAway(1.005, 2)).toBe(1.01);
    expect(roundHalfAway(-1.005, 2)).toBe(-1.01);
    expect(roundHalfAway(2.675, 2)).toBe(2.68);
    // 0.285 * 100 === 28.499999999999996
    expect(Math.round(0.285 * 100)).toBe(28);
    expect(roundHalfAway(0.285 * 100)).toBe(29);
    expect(roundHalfAway(1234.56785, 4)).toBe(1234.5679);
    expect(roundHalfAway(123456789012.5)).toBe(123456789013);
  });

  it('never returns -0 and rejects non-finite numbers', () => {
    expect(Object.is(roundHalfAway(-0.4), 0)).toBe(true);
    expect(Object.is(roundHalfAway(-0.00004, 4), 0)).toBe(true);
    expect(() => roundHalfAway(Number.NaN)).toThrow(TimbreError);
    expect(() => roundHalfAway(Number.POSITIVE_INFINITY)).toThrow(TimbreError);
    expect(() => roundHalfAway(1, -1)).toThrow(TimbreError);
  });
});

describe('exact products, percentages and quotients', () => {
  it('multiplies the decimals exactly before rounding', () => {
    expect(1.005 * 100).toBe(100.49999999999999);
    expect(multiplyRound(1.005, 100)).toBe(101);
    expect(multiplyRound(0.285, 100)).toBe(29);
    expect(multiplyRound(1.1, 1.1, 2)).toBe(1.21);
    expect(multiplyRound(2.5, 1.001, 3)).toBe(2.503); // 2.5025 → half away
    expect(multiplyRound(-1.5, 1)).toBe(-2);
    // 6173.27 USD × 947.35 CLP/USD = 5 848 247.3345
    expect(multiplyRound(6173.27, 947.35)).toBe(5848247);
    expect(multiplyRound(25, 189.95, 4)).toBe(4748.75);
  });

  it('computes percentages exactly, half away from zero', () => {
    expect(percentOf(104480, 19)).toBe(19851); // 19851.2
    expect(percentOf(866790, 5)).toBe(43340); // 43339.5
    expect(percentOf(-12350, 19)).toBe(-2347); // -2346.5
    expect(percentOf(1999.99, 10, 4)).toBe(199.999);
    expect(percentOf(0, 19)).toBe(0);
  });

  it('divides half away from zero (neto from gross)', () => {
    expect(divideRound(680, 1.19)).toBe(571); // 571.43
    expect(divideRound(-680, 1.19)).toBe(-571);
    expect(divideRound(9290, 1.19)).toBe(7807); // 7806.72
    expect(divideRound(86710, 1.19)).toBe(72866); // 72865.55
    expect(divideRound(1, 8, 2)).toBe(0.13); // 0.125 → 0.13
    expect(divideRound(-1, 8, 2)).toBe(-0.13);
    expect(() => divideRound(1, 0)).toThrow(TimbreError);
  });

  it('sums without binary drift', () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(sumRound([0.1, 0.2], 4)).toBe(0.3);
    expect(sumRound([4748.75, 1058.75, 320.5, 45.27], 4)).toBe(6173.27);
    expect(sumRound([10, -2.5])).toBe(8); // 7.5 → 8
    expect(sumRound([])).toBe(0);
  });

  it('counts decimals of the written decimal', () => {
    expect(hasAtMostDecimals(1.005, 2)).toBe(false);
    expect(hasAtMostDecimals(1.01, 2)).toBe(true);
    expect(hasAtMostDecimals(104480, 0)).toBe(true);
    expect(hasAtMostDecimals(0.1 + 0.2, 4)).toBe(true); // 0.30000000000000004 is 0.3
    expect(hasAtMostDecimals(6173.275, 2)).toBe(false);
  });
});

describe('formatDecimal', () => {
  it('writes XML decimals: dot, no exponent, no trailing zeros, no thousands separator', () => {
    expect(formatDecimal(1234.5, 4)).toBe('1234.5');
    expect(formatDecimal(6173.27, 4)).toBe('6173.27');
    expect(formatDecimal(100, 4)).toBe('100');
    expect(formatDecimal(1e21, 0)).toBe('1000000000000000000000');
    expect(String(1e21)).toBe('1e+21');
    expect(formatDecimal(0.000001, 6)).toBe('0.000001');
    expect(String(1e-7)).toBe('1e-7');
    expect(formatDecimal(1.5e-6, 6)).toBe('0.000002');
    expect(formatDecimal(1e-7, 6)).toBe('0');
    expect(formatDecimal(0.1 + 0.2, 4)).toBe('0.3');
    expect(formatDecimal(1.00005, 4)).toBe('1.0001');
  });

  it('rounds negatives half away from zero and never writes -0', () => {
    expect(formatDecimal(-2.5, 0)).toBe('-3');
    expect(formatDecimal(-1234.56785, 4)).toBe('-1234.5679');
    expect(formatDecimal(-0.00001, 4)).toBe('0');
    expect(formatDecimal(-0, 0)).toBe('0');
  });
});
