import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const cliPath = path.join(repoRoot, 'packages/cli/bin/timbre.js');
export const schemasDir = process.env.TIMBRE_SII_SCHEMAS ?? path.resolve(repoRoot, '../shared/sii/schemas');
export const siiKeysDir = path.resolve(schemasDir, '../keys');
export const examplesDir = path.join(repoRoot, 'examples/dte');
export const TIPOS = [33, 34, 39, 41, 43, 46, 52, 56, 61, 110, 111, 112] as const;

export const tmpDir = (prefix = 'timbre-') => mkdtempSync(path.join(os.tmpdir(), prefix));

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Run the built `timbre` CLI as a separate process. */
export function timbre(args: string[], opts: { cwd?: string; input?: string; env?: Record<string, string> } = {}): RunResult {
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: opts.cwd ?? repoRoot,
    encoding: 'utf8',
    input: opts.input,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, TIMBRE_SII_SCHEMAS: '', ...(opts.env ?? {}) },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function mustTimbre(args: string[]): RunResult {
  const r = timbre(args);
  if (r.status !== 0) throw new Error(`timbre ${args.join(' ')} → ${r.status}\n${r.stderr}\n${r.stdout}`);
  return r;
}

/** Run an external oracle; returns exit status and combined output. */
export function tool(cmd: string, args: string[], input?: Buffer | string): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** xmllint --schema; boletas are validated as DTE of EnvioBOLETA's BOLETADefType through a wrapper schema. */
export function xmllintSchema(file: string, schema: string): { status: number; out: string } {
  return tool('xmllint', ['--noout', '--schema', schema, file]);
}

let boletaWrapper: string | undefined;
export function boletaDteSchema(): string {
  if (boletaWrapper && existsSync(boletaWrapper)) return boletaWrapper;
  const dir = tmpDir('timbre-xsd-');
  boletaWrapper = path.join(dir, 'boleta-dte.xsd');
  writeFileSync(
    boletaWrapper,
    `<?xml version="1.0" encoding="UTF-8"?>
<xs:schema targetNamespace="http://www.sii.cl/SiiDte" xmlns:SiiDte="http://www.sii.cl/SiiDte" xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
<xs:include schemaLocation="${path.join(schemasDir, 'EnvioBOLETA_v11.xsd')}"/>
<xs:element name="DTE" type="SiiDte:BOLETADefType"/>
</xs:schema>`,
  );
  return boletaWrapper;
}

/**
 * Verify the TED of a DTE file with openssl alone: take the DD bytes as written (flattened), the
 * FRMT, and the CAF's public key (RSAPUBK of the CAF file).
 */
export function opensslVerifyTed(xmlBytes: Buffer, cafFile: string, index = 0): { status: number; out: string } {
  const text = xmlBytes.toString('latin1');
  const dds = [...text.matchAll(/<DD>[\s\S]*?<\/DD>/g)].map((m) => m[0]);
  const frmts = [...text.matchAll(/<FRMT[^>]*>([\s\S]*?)<\/FRMT>/g)].map((m) => m[1] ?? '');
  const dd = (dds[index] ?? '').replace(/>\s+</g, '><');
  const dir = tmpDir('timbre-ted-');
  const caf = readFileSync(cafFile, 'latin1');
  const pub = /<RSAPUBK>([\s\S]*?)<\/RSAPUBK>/.exec(caf)?.[1]?.trim() ?? '';
  writeFileSync(path.join(dir, 'pub.pem'), `${pub}\n`);
  writeFileSync(path.join(dir, 'dd.bin'), Buffer.from(dd, 'latin1'));
  writeFileSync(path.join(dir, 'sig.bin'), Buffer.from((frmts[index] ?? '').replace(/\s+/g, ''), 'base64'));
  return tool('openssl', ['dgst', '-sha1', '-verify', path.join(dir, 'pub.pem'), '-signature', path.join(dir, 'sig.bin'), path.join(dir, 'dd.bin')]);
}

/** xmlsec1 verification of the signature found by an XPath, trusting the test certificate. */
export function xmlsecVerify(file: string, certPem: string, idAttrs: string[], nodeXpath?: string): { status: number; out: string } {
  // --enabled-key-data x509: only the embedded certificate, chained to the trusted one, is used (by
  // default xmlsec1 would accept any KeyValue the document carries).
  const args = ['--verify', '--trusted-pem', certPem, '--enabled-key-data', 'x509', ...idAttrs.flatMap((a) => ['--id-attr:ID', a])];
  if (nodeXpath) args.push('--node-xpath', nodeXpath);
  args.push(file);
  return tool('xmlsec1', args);
}

export { execFileSync };
