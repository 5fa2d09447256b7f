/**
 * The issuer's logo (PNG or JPEG) as a PDF image XObject, prepared once per distinct content and
 * cached. Why not pdfkit's image(): it decodes PNGs with alpha asynchronously on every document
 * (a corrupt IDAT then throws from a callback, outside any try/catch), re-deflates the pixels for
 * every PDF, and embeds a 3000-pixel logo at full size. Here the bytes are checked synchronously
 * (bad logo → ERR_INPUT_INVALID, field `logo`), PNGs are decoded, reduced to print resolution and
 * compressed once, and each PDF only writes the cached streams.
 */
import { createHash } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import { TimbreError } from '@timbre/dte';

export interface PreparedImage {
  width: number;
  height: number;
  colorSpace: 'DeviceGray' | 'DeviceRGB' | 'DeviceCMYK';
  filter: 'DCTDecode' | 'FlateDecode';
  /** The image stream, already encoded with `filter`. */
  data: Buffer;
  /** Deflated 8-bit alpha (soft mask), when the image has transparency. */
  alpha?: Buffer;
  /** Inverted decode for Adobe CMYK JPEGs. */
  decode?: number[];
}

/** Logos larger than this many pixels are refused (a PNG of a few KB can declare 60000 × 60000). */
const MAX_PIXELS = 16_000_000;
/** Printed at most ~35 × 20 mm (thermal: ~50 mm wide): this many pixels is over 300 dpi. */
const TARGET_W = 640;
const TARGET_H = 360;

const bad = (message: string, cause?: unknown): TimbreError =>
  new TimbreError('ERR_INPUT_INVALID', `logo: ${message}`, cause === undefined ? { field: 'logo' } : { field: 'logo', cause });

const cache = new Map<string, PreparedImage>();
const CACHE_MAX = 32;

/** Prepare (or fetch from the cache) the logo; throws ERR_INPUT_INVALID (field `logo`) when unusable. */
export function prepareLogo(bytes: Uint8Array): PreparedImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const key = createHash('sha1').update(buf).digest('hex');
  const hit = cache.get(key);
  if (hit) {
    // Refresh its place: the map keeps insertion order, the oldest goes first.
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  let img: PreparedImage;
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0x89504e47 && buf.readUInt32BE(4) === 0x0d0a1a0a) img = preparePng(buf);
  else if (buf.length >= 4 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) img = prepareJpeg(buf);
  else throw bad('not a PNG or JPEG image');
  cache.set(key, img);
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value as string);
  return img;
}

// ---------------------------------------------------------------- JPEG

function prepareJpeg(buf: Buffer): PreparedImage {
  let pos = 2;
  while (pos + 4 <= buf.length) {
    if (buf[pos] !== 0xff) throw bad('malformed JPEG marker');
    let marker = buf[pos + 1] as number;
    while (marker === 0xff && pos + 2 < buf.length) marker = buf[++pos + 1] as number;
    pos += 2;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (marker === 0xd9 || marker === 0xda) break; // end of image / start of scan before any frame header
    if (pos + 2 > buf.length) break;
    const len = buf.readUInt16BE(pos);
    if (len < 2 || pos + len > buf.length) throw bad('truncated JPEG segment');
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (len < 8) throw bad('truncated JPEG frame header');
      const height = buf.readUInt16BE(pos + 3);
      const width = buf.readUInt16BE(pos + 5);
      const components = buf[pos + 7] as number;
      if (width === 0 || height === 0) throw bad('JPEG without dimensions');
      if (width * height > MAX_PIXELS) throw bad(`image of ${width} × ${height} pixels is too large`);
      const colorSpace = components === 1 ? 'DeviceGray' : components === 3 ? 'DeviceRGB' : components === 4 ? 'DeviceCMYK' : undefined;
      if (!colorSpace) throw bad(`JPEG with ${components} components`);
      return {
        width,
        height,
        colorSpace,
        filter: 'DCTDecode',
        data: Buffer.from(buf),
        ...(colorSpace === 'DeviceCMYK' ? { decode: [1, 0, 1, 0, 1, 0, 1, 0] } : {}),
      };
    }
    pos += len;
  }
  throw bad('JPEG without a frame header');
}

// ---------------------------------------------------------------- PNG

interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
}

const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Readonly<Record<number, readonly number[]>> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

function preparePng(buf: Buffer): PreparedImage {
  let pos = 8;
  let hdr: PngHeader | undefined;
  let palette: Buffer | undefined;
  let trns: Buffer | undefined;
  const idat: Buffer[] = [];
  while (pos + 8 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const start = pos + 8;
    if (len > buf.length - start - 4 && !(type === 'IEND' && len === 0)) throw bad(`truncated PNG chunk ${type}`);
    const data = buf.subarray(start, start + len);
    pos = start + len + 4;
    if (type === 'IHDR') {
      if (len < 13) throw bad('malformed PNG header');
      hdr = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), depth: data[8] as number, colorType: data[9] as number, interlace: data[12] as number };
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
  }
  if (!hdr) throw bad('PNG without header');
  const { width, height, depth, colorType, interlace } = hdr;
  if (width === 0 || height === 0) throw bad('PNG without dimensions');
  if (width * height > MAX_PIXELS) throw bad(`image of ${width} × ${height} pixels is too large`);
  if (!DEPTHS[colorType]?.includes(depth)) throw bad(`unsupported PNG color type ${colorType} / bit depth ${depth}`);
  if (interlace > 1) throw bad('unknown PNG interlace method');
  if (colorType === 3 && (!palette || palette.length < 3)) throw bad('palette PNG without palette');
  if (idat.length === 0) throw bad('PNG without image data');

  const channels = CHANNELS[colorType] as number;
  const passes = interlace === 1 ? ADAM7 : [[0, 0, 1, 1] as const];
  let expected = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw > 0 && ph > 0) expected += ph * (1 + Math.ceil((pw * channels * depth) / 8));
  }
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (e) {
    throw bad('corrupt PNG image data', e);
  }
  if (raw.length < expected) throw bad('PNG image data shorter than its dimensions');

  // Decode to 8-bit gray or RGB plus alpha, pass by pass.
  const colors = colorType === 0 || colorType === 4 ? 1 : 3;
  const pixels = new Uint8Array(width * height * colors);
  const alpha = new Uint8Array(width * height).fill(255);
  let hasAlpha = false;
  const bpp = Math.max(1, (channels * depth) >> 3);
  const maxSample = (1 << depth) - 1;
  const trnsGray = colorType === 0 && trns && trns.length >= 2 ? trns.readUInt16BE(0) : -1;
  const trnsRgb = colorType === 2 && trns && trns.length >= 6 ? [trns.readUInt16BE(0), trns.readUInt16BE(2), trns.readUInt16BE(4)] : undefined;
  let offset = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const pw = Math.ceil((width - x0) / dx);
    const ph = Math.ceil((height - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    const stride = Math.ceil((pw * channels * depth) / 8);
    let prev = new Uint8Array(stride);
    for (let r = 0; r < ph; r++) {
      const filter = raw[offset] as number;
      const line = new Uint8Array(raw.subarray(offset + 1, offset + 1 + stride));
      offset += 1 + stride;
      unfilter(filter, line, prev, bpp);
      prev = line;
      const y = y0 + r * dy;
      for (let c = 0; c < pw; c++) {
        const x = x0 + c * dx;
        const p = y * width + x;
        const i0 = c * channels;
        if (colorType === 3) {
          const idx = sampleAt(line, i0, depth, maxSample);
          const o = idx * 3;
          pixels[p * 3] = palette?.[o] ?? 0;
          pixels[p * 3 + 1] = palette?.[o + 1] ?? 0;
          pixels[p * 3 + 2] = palette?.[o + 2] ?? 0;
          if (trns && idx < trns.length) alpha[p] = trns[idx] as number;
        } else if (colors === 1) {
          const g = sampleAt(line, i0, depth, maxSample);
          pixels[p] = to8(g, depth, maxSample);
          if (colorType === 4) alpha[p] = to8(sampleAt(line, i0 + 1, depth, maxSample), depth, maxSample);
          else if (g === trnsGray) alpha[p] = 0;
        } else {
          const rr = sampleAt(line, i0, depth, maxSample);
          const gg = sampleAt(line, i0 + 1, depth, maxSample);
          const bb = sampleAt(line, i0 + 2, depth, maxSample);
          pixels[p * 3] = to8(rr, depth, maxSample);
          pixels[p * 3 + 1] = to8(gg, depth, maxSample);
          pixels[p * 3 + 2] = to8(bb, depth, maxSample);
          if (colorType === 6) alpha[p] = to8(sampleAt(line, i0 + 3, depth, maxSample), depth, maxSample);
          else if (trnsRgb && rr === trnsRgb[0] && gg === trnsRgb[1] && bb === trnsRgb[2]) alpha[p] = 0;
        }
        if (alpha[p] !== 255) hasAlpha = true;
      }
    }
  }

  // Reduce to print resolution by an integer box filter: keeps every PDF small and fast to write.
  const f = Math.max(1, Math.floor(Math.min(width / TARGET_W, height / TARGET_H)));
  const out = f > 1 ? shrink(pixels, alpha, width, height, colors, f) : { pixels, alpha, width, height };
  return {
    width: out.width,
    height: out.height,
    colorSpace: colors === 1 ? 'DeviceGray' : 'DeviceRGB',
    filter: 'FlateDecode',
    data: deflateSync(out.pixels),
    ...(hasAlpha ? { alpha: deflateSync(out.alpha) } : {}),
  };
}

/** Sample `i` of an unfiltered scanline (1, 2, 4, 8 or 16 bits). */
function sampleAt(line: Uint8Array, i: number, depth: number, maxSample: number): number {
  if (depth === 8) return line[i] as number;
  if (depth === 16) return ((line[2 * i] as number) << 8) | (line[2 * i + 1] as number);
  const bit = i * depth;
  return ((line[bit >> 3] as number) >> (8 - depth - (bit & 7))) & maxSample;
}

/** A sample scaled to 8 bits. */
function to8(v: number, depth: number, maxSample: number): number {
  return depth === 8 ? v : depth === 16 ? v >> 8 : Math.round((v * 255) / maxSample);
}

const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

function unfilter(filter: number, line: Uint8Array, prev: Uint8Array, bpp: number): void {
  const n = line.length;
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) line[i] = ((line[i] as number) + (line[i - bpp] as number)) & 0xff;
      return;
    case 2:
      for (let i = 0; i < n; i++) line[i] = ((line[i] as number) + (prev[i] as number)) & 0xff;
      return;
    case 3:
      for (let i = 0; i < n; i++) {
        const left = i >= bpp ? (line[i - bpp] as number) : 0;
        line[i] = ((line[i] as number) + ((left + (prev[i] as number)) >> 1)) & 0xff;
      }
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? (line[i - bpp] as number) : 0;
        const b = prev[i] as number;
        const c = i >= bpp ? (prev[i - bpp] as number) : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        line[i] = ((line[i] as number) + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 0xff;
      }
      return;
    default:
      throw bad(`unknown PNG filter type ${filter}`);
  }
}

function shrink(pixels: Uint8Array, alpha: Uint8Array, width: number, height: number, colors: number, f: number) {
  const w = Math.floor(width / f);
  const h = Math.floor(height / f);
  const outP = new Uint8Array(w * h * colors);
  const outA = new Uint8Array(w * h);
  const area = f * f;
  const acc = new Float64Array(colors);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      acc.fill(0);
      let a = 0;
      // Colours weighted by alpha, so transparent pixels (often black) do not darken the edges.
      for (let yy = y * f; yy < (y + 1) * f; yy++) {
        for (let xx = x * f; xx < (x + 1) * f; xx++) {
          const p = yy * width + xx;
          const al = alpha[p] as number;
          for (let k = 0; k < colors; k++) acc[k] = (acc[k] as number) + (pixels[p * colors + k] as number) * al;
          a += al;
        }
      }
      const o = y * w + x;
      for (let k = 0; k < colors; k++) outP[o * colors + k] = a === 0 ? 255 : Math.round((acc[k] as number) / a);
      outA[o] = Math.round(a / area);
    }
  }
  return { pixels: outP, alpha: outA, width: w, height: h };
}
