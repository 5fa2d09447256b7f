import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import bwipjs from 'bwip-js';
import { byteCompaction, encodePdf417, errorCorrection, type Pdf417Symbol } from '../src/pdf417.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'timbre-pdf417-'));

/** A deterministic byte generator (xorshift), so failures reproduce. */
function bytesOf(n: number, seed: number): Uint8Array {
  let s = seed >>> 0 || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

/** The same symbol drawn by bwip-js (BWIPP) from our codewords: an independent encoder for RS, indicators, padding. */
function bwipModules(data: number[], columns: number, ecLevel: number) {
  const text = data.map((c) => `^${String(c).padStart(3, '0')}`).join('');
  const [sym] = bwipjs.raw({ bcid: 'pdf417', text, raw: true, eclevel: ecLevel, columns, rowmult: 1 } as Parameters<typeof bwipjs.raw>[0]) as Array<{ pixs: number[]; pixx: number; pixy: number }>;
  return sym!;
}

/** Write the symbol as a binary PGM (8 px per module, rows 3 modules tall, 2-module quiet zone) and decode it with ZXing. */
function zxingBytes(sym: Pdf417Symbol, name: string): Buffer {
  const scale = 4;
  const quiet = 4;
  const w = (sym.width + 2 * quiet) * scale;
  const h = (sym.rows * 3 + 2 * quiet) * scale;
  const px = Buffer.alloc(w * h, 255);
  for (let r = 0; r < sym.rows; r++) {
    for (let c = 0; c < sym.width; c++) {
      if (!sym.modules[r * sym.width + c]) continue;
      for (let dy = 0; dy < 3 * scale; dy++) {
        const y = (quiet + r * 3) * scale + dy;
        px.fill(0, y * w + (quiet + c) * scale, y * w + (quiet + c + 1) * scale);
      }
    }
  }
  const file = path.join(tmp, `${name}.pgm`);
  writeFileSync(file, Buffer.concat([Buffer.from(`P5\n${w} ${h}\n255\n`, 'latin1'), px]));
  const r = spawnSync('ZXingReader', ['-format', 'PDF417', '-bytes', file]);
  if (r.status !== 0) throw new Error(`ZXingReader failed: ${r.stderr.toString()}`);
  return r.stdout;
}

describe('byteCompaction', () => {
  it('latches 924 for a multiple of 6 bytes and 901 otherwise; 6 bytes → 5 codewords, the rest 1:1', () => {
    expect(byteCompaction(Uint8Array.from([1, 2, 3, 4, 5, 6]))[0]).toBe(924);
    expect(byteCompaction(Uint8Array.from([1, 2, 3, 4, 5, 6, 7]))).toHaveLength(1 + 5 + 1);
    expect(byteCompaction(Uint8Array.from([1, 2, 3, 4, 5, 6, 7]))[0]).toBe(901);
    // 0xFFFFFFFFFFFF = 281474976710655 in base 900, computed with BigInt
    let v = 0xffffffffffffn;
    const want: number[] = [];
    for (let i = 0; i < 5; i++) {
      want.unshift(Number(v % 900n));
      v /= 900n;
    }
    expect(byteCompaction(new Uint8Array(6).fill(0xff)).slice(1)).toEqual(want);
  });
});

describe('errorCorrection', () => {
  it('level 0 of one codeword: [−12d, 27d] mod 929 (generator (x−3)(x−9))', () => {
    expect(errorCorrection([5], 0)).toEqual([869, 135]);
  });

  it('level 5: the codeword polynomial vanishes at 3^1..3^64 (the defining property of the RS code)', () => {
    const data = Array.from(bytesOf(300, 9), (b) => (b * 7) % 929);
    const full = [...data, ...errorCorrection(data, 5)];
    let a = 1;
    for (let i = 1; i <= 64; i++) {
      a = (a * 3) % 929;
      let v = 0;
      for (const c of full) v = (v * a + c) % 929; // Horner, highest degree first
      expect(v).toBe(0);
    }
  });
});

describe('encodePdf417', () => {
  it.each([
    [1, 18, 5],
    [57, 18, 5],
    [863, 18, 5],
    [900, 12, 5],
    [1000, 18, 5],
    [300, 7, 2],
    [12, 3, 0],
  ])('%i bytes, %i columns, EC %i: module for module what bwip-js draws from the same codewords', (n, columns, ec) => {
    const bytes = bytesOf(n, n * 31 + columns);
    const ours = encodePdf417(bytes, { columns, ecLevel: ec });
    const theirs = bwipModules(byteCompaction(bytes), ours.columns, ec);
    expect(theirs.pixx).toBe(ours.width);
    expect(theirs.pixy).toBe(ours.rows);
    expect(Buffer.from(theirs.pixs.map((p) => (p ? 1 : 0))).equals(Buffer.from(ours.modules))).toBe(true);
  });

  it('ZXing decodes every byte value back, at EC level 5', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const sym = encodePdf417(all, { columns: 18 });
    expect(sym.ecLevel).toBe(5);
    expect(zxingBytes(sym, 'all-bytes').equals(Buffer.from(all))).toBe(true);
    const odd = bytesOf(863, 7);
    expect(zxingBytes(encodePdf417(odd, { columns: 12 }), 'odd').equals(Buffer.from(odd))).toBe(true);
  });

  it('widens when the rows would exceed 90, and refuses what no symbol holds', () => {
    const sym = encodePdf417(bytesOf(1000, 3), { columns: 8 });
    expect(sym.rows).toBeLessThanOrEqual(90);
    expect(sym.columns).toBeGreaterThan(8);
    expect(() => encodePdf417(bytesOf(1100, 3))).toThrow(/does not fit/);
  });
});
