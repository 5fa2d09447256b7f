/**
 * Optional XSD validation of uploaded envelopes against the SII's schemas, with libxml2 compiled to
 * WebAssembly (`xmllint-wasm`, no process spawned). The package is not a dependency of the
 * simulator: it is loaded when present (it is installed for @timbre/cli); when it is absent, or no
 * schema directory is configured, the schema step is skipped and every envío records a note.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

export type XsdStatus = 'disabled' | 'enabled' | 'unavailable';

export interface XsdResult {
  valid: boolean;
  schema: string;
  errors: string[];
}

interface XmllintModule {
  validateXML(opts: {
    xml: Array<{ fileName: string; contents: Uint8Array }>;
    schema: Array<{ fileName: string; contents: Uint8Array }>;
    preload?: Array<{ fileName: string; contents: Uint8Array }>;
    maxMemoryPages?: number;
  }): Promise<{ valid: boolean; errors: Array<{ rawMessage: string }> }>;
}

const SCHEMA_BY_ROOT: Record<string, string> = { EnvioDTE: 'EnvioDTE_v10.xsd', EnvioBOLETA: 'EnvioBOLETA_v11.xsd' };

export class XsdValidator {
  private loading?: Promise<void>;
  private files: Array<{ fileName: string; contents: Uint8Array }> = [];
  private lib?: XmllintModule;
  private problem?: string;

  constructor(private readonly dir: string | undefined) {}

  /** After `load()`: whether uploads are schema-validated. */
  get status(): XsdStatus {
    if (!this.dir) return 'disabled';
    return this.lib && !this.problem ? 'enabled' : 'unavailable';
  }

  /** Why validation is off (when it is). */
  get note(): string | undefined {
    if (!this.dir) return 'XSD validation skipped: no schemasDir configured';
    return this.problem ? `XSD validation skipped: ${this.problem}` : undefined;
  }

  load(): Promise<void> {
    this.loading ??= this.doLoad();
    return this.loading;
  }

  private async doLoad(): Promise<void> {
    if (!this.dir) return;
    try {
      if (!existsSync(this.dir)) throw new Error(`schema directory ${this.dir} does not exist`);
      const names = (await readdir(this.dir)).filter((n) => n.toLowerCase().endsWith('.xsd'));
      for (const needed of Object.values(SCHEMA_BY_ROOT)) {
        if (!names.includes(needed)) throw new Error(`${this.dir} has no ${needed}`);
      }
      this.files = await Promise.all(names.map(async (fileName) => ({ fileName, contents: new Uint8Array(await readFile(path.join(this.dir as string, fileName))) })));
      // Not a declared dependency: resolved at run time when installed.
      const moduleName = 'xmllint-wasm';
      this.lib = (await import(moduleName)) as XmllintModule;
    } catch (e) {
      this.problem = e instanceof Error ? e.message : String(e);
    }
  }

  /** undefined when validation is off or the root has no schema here. */
  async validate(bytes: Uint8Array, root: string): Promise<XsdResult | undefined> {
    await this.load();
    const schemaName = SCHEMA_BY_ROOT[root];
    if (!this.lib || this.problem || !schemaName) return undefined;
    const main = this.files.find((f) => f.fileName === schemaName);
    if (!main) return undefined;
    const r = await this.lib.validateXML({
      xml: [{ fileName: 'envio.xml', contents: bytes }],
      schema: [main],
      preload: this.files.filter((f) => f !== main),
      maxMemoryPages: 16 * 1024,
    });
    return { valid: r.valid, schema: schemaName, errors: r.errors.map((e) => e.rawMessage.trim()) };
  }
}
