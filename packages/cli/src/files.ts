import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { KeyObject } from 'node:crypto';
import { idkFromFileName, loadTrustedKeys } from '@timbre/dte';

/** Read a trust directory: one PEM public key per SII key id, named `<IDK>.pem` (also `sii_<IDK>.pub.pem`). */
export async function loadTrustDir(dir: string): Promise<Map<number, KeyObject>> {
  const names = await readdir(dir);
  const pems: { idk: number; pem: string }[] = [];
  for (const name of names) {
    const idk = idkFromFileName(name);
    if (idk === undefined) continue;
    pems.push({ idk, pem: await readFile(path.join(dir, name), 'utf8') });
  }
  if (pems.length === 0) throw Object.assign(new Error(`no <IDK>.pem keys in ${dir}`), { code: 'ENOKEYS' });
  return loadTrustedKeys(pems);
}

export async function readInput(file: string): Promise<Buffer> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
  return readFile(file);
}
