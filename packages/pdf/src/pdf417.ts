/**
 * PDF417 (ISO/IEC 15438) for the timbre: byte compaction, Reed–Solomon error correction over
 * GF(929), rows with their left/right indicators, as a module matrix.
 *
 * Why not bwip-js end to end: its PostScript-emulated encoder costs ~7 ms per TED symbol, more than
 * the whole rest of a page, and the bench target is 100 PDFs/s per core. The hot path here is plain
 * arithmetic (< 0.3 ms). The codeword→bar-pattern tables of the standard are not retyped: they are
 * read once, at first use, from symbols that bwip-js itself draws through its public `raw()` API,
 * and the tests check that both encoders produce identical matrices.
 */
import bwipjs from 'bwip-js';
import { TimbreError } from '@timbre/dte';

export interface Pdf417Symbol {
  rows: number;
  columns: number;
  ecLevel: number;
  /** Modules per row: 17 × (columns + 4) + 1 (start, left indicator, data, right indicator, stop). */
  width: number;
  /** rows × width, 1 = dark module, row-major. Each row is printed `rowHeight` tall (3 × module width by default). */
  modules: Uint8Array;
  /** The full codeword sequence: length descriptor, data, padding, error correction. */
  codewords: number[];
}

export interface Pdf417Options {
  /** Data columns, 1–30 (default 18). */
  columns?: number;
  /** Error-correction level 0–8 (default 5, what the SII asks for the timbre). */
  ecLevel?: number;
}

const MOD = 929;
const START = 0b11111111010101000; // 17 modules
const STOP = 0b111111101000101001; // 18 modules
const MAX_CODEWORDS = 928;
const MIN_ROWS = 3;
const MAX_ROWS = 90;

/**
 * Byte compaction (ISO 15438 §5.4.3): latch 924 when the length is a multiple of 6, else 901;
 * every 6 bytes become 5 base-900 codewords, the remaining bytes one codeword each.
 */
export function byteCompaction(bytes: Uint8Array): number[] {
  const out: number[] = [bytes.length % 6 === 0 ? 924 : 901];
  let i = 0;
  for (; i + 6 <= bytes.length; i += 6) {
    // 48 bits do not fit a double's 53-bit integer range comfortably for the division; split into
    // two 24-bit halves and divide by 900 by long division.
    let hi = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    let lo = (bytes[i + 3]! << 16) | (bytes[i + 4]! << 8) | bytes[i + 5]!;
    const group = [0, 0, 0, 0, 0];
    for (let k = 4; k >= 0; k--) {
      const hq = Math.floor(hi / 900);
      const hr = hi % 900;
      const cur = hr * 0x1000000 + lo; // < 900 × 2^24, exact in a double
      const lq = Math.floor(cur / 900);
      group[k] = cur % 900;
      hi = hq;
      lo = lq;
    }
    out.push(...group);
  }
  for (; i < bytes.length; i++) out.push(bytes[i]!);
  return out;
}

const generators = new Map<number, Int32Array>();

/** Coefficients g0..g(k-1) of Π (x − 3^i), i = 1..k, mod 929 (the standard's table, computed). */
function generator(k: number): Int32Array {
  const hit = generators.get(k);
  if (hit) return hit;
  let g = [1]; // ascending powers
  let a = 1;
  for (let i = 1; i <= k; i++) {
    a = (a * 3) % MOD;
    const next = new Array<number>(g.length + 1).fill(0);
    for (let j = 0; j < g.length; j++) {
      next[j + 1] = (next[j + 1]! + g[j]!) % MOD;
      next[j] = (next[j]! + MOD - ((g[j]! * a) % MOD)) % MOD;
    }
    g = next;
  }
  const out = Int32Array.from(g.slice(0, k));
  generators.set(k, out);
  return out;
}

const products = new Map<number, Uint16Array>();

/** (t × g_j) mod 929 for every t and j: the division loop becomes lookups and subtractions (≈ 10× faster than `%`). */
function productTable(k: number): Uint16Array {
  const hit = products.get(k);
  if (hit) return hit;
  const coef = generator(k);
  const tab = new Uint16Array(k * MOD);
  for (let t = 0; t < MOD; t++) for (let j = 0; j < k; j++) tab[t * k + j] = (t * coef[j]!) % MOD; // row per t: the inner loop reads contiguously
  products.set(k, tab);
  return tab;
}

/** Error-correction codewords for `data` (length descriptor included), highest degree first. */
export function errorCorrection(data: readonly number[], ecLevel: number): number[] {
  const k = 2 ** (ecLevel + 1);
  const tab = productTable(k);
  const e = new Int32Array(k);
  for (const d of data) {
    let t1 = d + e[k - 1]!;
    if (t1 >= MOD) t1 -= MOD;
    const row = t1 * k;
    for (let j = k - 1; j >= 1; j--) {
      const v = e[j - 1]! - tab[row + j]!;
      e[j] = v < 0 ? v + MOD : v;
    }
    const v0 = -tab[row]!;
    e[0] = v0 < 0 ? v0 + MOD : v0;
  }
  const out: number[] = [];
  for (let j = k - 1; j >= 0; j--) out.push(e[j] === 0 ? 0 : MOD - e[j]!);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Bar patterns, read from bwip-js once.

let patterns: Uint32Array | undefined;

const CHUNK = 465;

/** Codewords 0..928 in each of the three clusters, as 17-bit patterns (leftmost module = bit 16). */
export function barPatterns(): Uint32Array {
  if (patterns) return patterns;
  const table = new Uint32Array(3 * MOD);
  const seen = new Uint8Array(3 * MOD);
  const cols = 30;
  // Values laid out from position `1 + shift` (position 0 is the length descriptor bwip-js adds);
  // shifting by one row (30) moves every value to the next cluster.
  for (let from = 0; from < MOD; from += CHUNK) {
    const values: number[] = [];
    for (let v = from; v < Math.min(MOD, from + CHUNK); v++) values.push(v);
    for (let s = 0; s < 3; s++) {
      const data = [...new Array<number>(s * cols).fill(900), ...values];
      const text = data.map((c) => `^${String(c).padStart(3, '0')}`).join('');
      const sym = (bwipjs.raw({ bcid: 'pdf417', text, raw: true, eclevel: 0, columns: cols, rowmult: 1 } as Parameters<typeof bwipjs.raw>[0]) as Array<{
        pixs: number[];
        pixx: number;
        pixy: number;
      }>)[0];
      if (!sym || sym.pixx !== 17 * (cols + 4) + 1) throw new Error('bwip-js returned an unexpected PDF417 layout');
      for (let p = 0; p < data.length; p++) {
        const pos = p + 1;
        const row = Math.floor(pos / cols);
        const col = pos % cols;
        const cluster = row % 3;
        const v = data[p]!;
        let pat = 0;
        const base = row * sym.pixx + 34 + col * 17;
        for (let m = 0; m < 17; m++) pat = (pat << 1) | (sym.pixs[base + m] ? 1 : 0);
        const idx = cluster * MOD + v;
        if (seen[idx] && table[idx] !== pat) throw new Error(`bwip-js drew codeword ${v} two ways in cluster ${cluster}`);
        table[idx] = pat;
        seen[idx] = 1;
      }
    }
  }
  if (!seen.every((x) => x === 1)) throw new Error('PDF417 patterns incomplete');
  patterns = table;
  return table;
}

// ---------------------------------------------------------------------------------------------

/** Encode bytes as a PDF417 symbol in byte compaction. Throws ERR_TED_INVALID when they do not fit. */
export function encodePdf417(bytes: Uint8Array, opts: Pdf417Options = {}): Pdf417Symbol {
  const ecLevel = opts.ecLevel ?? 5;
  let columns = opts.columns ?? 18;
  if (!Number.isInteger(ecLevel) || ecLevel < 0 || ecLevel > 8) throw new RangeError(`PDF417 error-correction level ${ecLevel} is not 0..8`);
  if (!Number.isInteger(columns) || columns < 1 || columns > 30) throw new RangeError(`PDF417 columns ${columns} is not 1..30`);
  const data = byteCompaction(bytes);
  const k = 2 ** (ecLevel + 1);
  const needed = 1 + data.length + k;
  if (needed > MAX_CODEWORDS) {
    throw new TimbreError('ERR_TED_INVALID', `the timbre (${bytes.length} bytes) does not fit a PDF417 symbol at error-correction level ${ecLevel}`, { field: 'TED' });
  }
  // Too many rows for the columns asked: widen rather than fail.
  while (Math.ceil(needed / columns) > MAX_ROWS && columns < 30) columns++;
  const rows = Math.max(MIN_ROWS, Math.ceil(needed / columns));
  const dataSlots = rows * columns - k; // length descriptor + data + padding
  const full = [dataSlots, ...data];
  while (full.length < dataSlots) full.push(900);
  full.push(...errorCorrection(full, ecLevel));

  const table = barPatterns();
  const width = 17 * (columns + 4) + 1;
  const modules = new Uint8Array(rows * width);
  let idx = 0;
  for (let y = 0; y < rows; y++) {
    const cluster = y % 3;
    const base = 30 * Math.floor(y / 3);
    let left: number;
    let right: number;
    if (cluster === 0) {
      left = base + Math.floor((rows - 1) / 3);
      right = base + columns - 1;
    } else if (cluster === 1) {
      left = base + ecLevel * 3 + ((rows - 1) % 3);
      right = base + Math.floor((rows - 1) / 3);
    } else {
      left = base + columns - 1;
      right = base + ecLevel * 3 + ((rows - 1) % 3);
    }
    let x = y * width;
    const put = (pattern: number, len: number) => {
      for (let m = len - 1; m >= 0; m--) modules[x++] = (pattern >>> m) & 1;
    };
    const off = cluster * MOD;
    put(START, 17);
    put(table[off + left]!, 17);
    for (let c = 0; c < columns; c++) put(table[off + full[idx++]!]!, 17);
    put(table[off + right]!, 17);
    put(STOP, 18);
  }
  return { rows, columns, ecLevel, width, modules, codewords: full };
}

/**
 * PDF content-stream operators that fill the dark modules of `symbol`: one rectangle per run of
 * dark modules in a row, in a coordinate system scaled to modules (so the numbers stay short).
 * `x`, `y` are the top-left corner in the page's top-down coordinates (pdfkit's).
 */
export function pdf417Operators(symbol: Pdf417Symbol, x: number, y: number, moduleWidth: number, rowHeight = 3 * moduleWidth): string {
  const parts: string[] = [`q 0 g ${fmt(moduleWidth)} 0 0 ${fmt(rowHeight)} ${fmt(x)} ${fmt(y)} cm`];
  const { rows, width, modules } = symbol;
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    let c = 0;
    while (c < width) {
      if (modules[o + c] === 0) {
        c++;
        continue;
      }
      const s = c;
      while (c < width && modules[o + c] === 1) c++;
      parts.push(`${s} ${r} ${c - s} 1 re`);
    }
  }
  parts.push('f Q');
  return parts.join('\n');
}

const fmt = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(4).replace(/0+$/, ''));
