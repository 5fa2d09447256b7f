/**
 * A defensive ZIP reader for received attachments. Entries are never written to disk. Every size
 * is checked twice: the sizes the archive declares (central directory) before inflating, and the
 * real output while inflating (zlib `maxOutputLength`), so a lying header cannot blow memory.
 */
import { crc32, inflateRawSync } from 'node:zlib';

export interface ZipLimits {
  maxEntries: number;
  /** per entry */
  maxEntryBytes: number;
  /** whole archive */
  maxTotalBytes: number;
}

export interface ZipEntryResult {
  name: string;
  content?: Buffer;
  /** why the entry was not extracted */
  error?: string;
}

export class ZipError extends Error {}

const SIG_EOCD = 0x06054b50;
const SIG_CEN = 0x02014b50;
const SIG_LOC = 0x04034b50;

function findEocd(b: Buffer): number {
  const min = Math.max(0, b.length - 22 - 0xffff);
  for (let i = b.length - 22; i >= min; i--) {
    if (b.readUInt32LE(i) === SIG_EOCD) return i;
  }
  return -1;
}

/** `..` segments, absolute paths, drive letters, NUL: never used (nothing is written), but reported. */
export function isUnsafeZipName(name: string): boolean {
  if (name.includes('\0')) return true;
  if (/^[/\\]/.test(name) || /^[A-Za-z]:/.test(name)) return true;
  return name.split(/[/\\]/).some((seg) => seg === '..');
}

/** List and inflate the entries. Throws ZipError when the archive as a whole is unusable. */
export function readZip(b: Buffer, limits: ZipLimits): ZipEntryResult[] {
  if (b.length < 22) throw new ZipError('not a zip archive (too short)');
  const eocd = findEocd(b);
  if (eocd < 0) throw new ZipError('not a zip archive (no end of central directory)');
  const total = b.readUInt16LE(eocd + 10);
  const cdSize = b.readUInt32LE(eocd + 12);
  const cdOffset = b.readUInt32LE(eocd + 16);
  if (total === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) throw new ZipError('zip64 archives are not supported');
  if (total > limits.maxEntries) throw new ZipError(`too many entries: ${total} (limit ${limits.maxEntries})`);
  if (cdOffset + cdSize > eocd) throw new ZipError('broken zip (central directory out of bounds)');

  // First pass: read the central directory and check the declared sizes.
  interface Cen { name: string; flags: number; method: number; crc: number; csize: number; usize: number; local: number }
  const entries: Cen[] = [];
  let p = cdOffset;
  for (let k = 0; k < total; k++) {
    if (p + 46 > eocd || b.readUInt32LE(p) !== SIG_CEN) throw new ZipError('broken zip (bad central directory entry)');
    const flags = b.readUInt16LE(p + 8);
    const nameLen = b.readUInt16LE(p + 28);
    const extraLen = b.readUInt16LE(p + 30);
    const commentLen = b.readUInt16LE(p + 32);
    const rawName = b.subarray(p + 46, p + 46 + nameLen);
    entries.push({
      name: rawName.toString(flags & 0x800 ? 'utf8' : 'latin1'),
      flags,
      method: b.readUInt16LE(p + 10),
      crc: b.readUInt32LE(p + 16),
      csize: b.readUInt32LE(p + 20),
      usize: b.readUInt32LE(p + 24),
      local: b.readUInt32LE(p + 42),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  const declaredTotal = entries.reduce((s, e) => s + e.usize, 0);
  if (declaredTotal > limits.maxTotalBytes) {
    throw new ZipError(`zip bomb: declares ${declaredTotal} uncompressed bytes (limit ${limits.maxTotalBytes})`);
  }

  const out: ZipEntryResult[] = [];
  let inflatedTotal = 0;
  for (const e of entries) {
    if (e.name.endsWith('/') || e.name.startsWith('__MACOSX/')) continue; // directories, Finder metadata
    if (isUnsafeZipName(e.name)) { out.push({ name: e.name, error: 'unsafe entry name (absolute path or path traversal) — ignored' }); continue; }
    if (e.flags & 0x1) { out.push({ name: e.name, error: 'encrypted zip entry' }); continue; }
    if (e.usize > limits.maxEntryBytes) {
      out.push({ name: e.name, error: `zip bomb / too large: declares ${e.usize} uncompressed bytes (limit ${limits.maxEntryBytes})` });
      continue;
    }
    if (e.local + 30 > b.length || b.readUInt32LE(e.local) !== SIG_LOC) { out.push({ name: e.name, error: 'broken zip entry (bad local header)' }); continue; }
    const start = e.local + 30 + b.readUInt16LE(e.local + 26) + b.readUInt16LE(e.local + 28);
    if (start + e.csize > b.length) { out.push({ name: e.name, error: 'broken zip entry (truncated data)' }); continue; }
    const data = b.subarray(start, start + e.csize);
    const budget = Math.min(limits.maxEntryBytes, limits.maxTotalBytes - inflatedTotal);
    let content: Buffer;
    if (e.method === 0) {
      content = Buffer.from(data);
    } else if (e.method === 8) {
      try {
        content = inflateRawSync(data, { maxOutputLength: Math.max(1, budget) });
      } catch (err) {
        const code = (err as { code?: string }).code;
        out.push({
          name: e.name,
          error: code === 'ERR_BUFFER_TOO_LARGE'
            ? `zip bomb: inflates beyond ${budget} bytes although it declares ${e.usize}`
            : `broken zip entry (${(err as Error).message})`,
        });
        continue;
      }
    } else {
      out.push({ name: e.name, error: `unsupported zip compression method ${e.method}` });
      continue;
    }
    if (content.length !== e.usize) {
      out.push({ name: e.name, error: `broken zip entry: declares ${e.usize} bytes, holds ${content.length}` });
      continue;
    }
    if (crc32(content) !== e.crc) { out.push({ name: e.name, error: 'broken zip entry (CRC mismatch)' }); continue; }
    inflatedTotal += content.length;
    out.push({ name: e.name, content });
  }
  return out;
}
