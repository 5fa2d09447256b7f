/**
 * @timbre/xsd — XSD validation against the SII's official schemas, from a directory the user
 * configures (the CLI's `--schemas DIR`, or TIMBRE_SII_SCHEMAS for the CLI and the DTE service).
 * Uses libxml2 compiled to WebAssembly (xmllint-wasm), so no system package is needed. Load a
 * `SchemaSet` once and validate many documents with it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { validateXML } from 'xmllint-wasm';

export const SCHEMAS_HELP =
  'The SII XML schemas (DTE_v10.xsd, EnvioDTE_v10.xsd, EnvioBOLETA_v11.xsd, SiiTypes_v10.xsd, xmldsignature_v10.xsd, …) ' +
  'are published by the SII at https://www.sii.cl/factura_electronica/factura_mercado/ (schema_dte.zip, schema_envio_bol.zip, ' +
  'schema_ic.zip, schema19983.zip). Unzip them into one directory and pass it with --schemas DIR or TIMBRE_SII_SCHEMAS=DIR.';

/** Which schema validates a document, by its root element. */
export const SCHEMA_BY_ROOT: Record<string, string> = {
  DTE: 'DTE_v10.xsd',
  EnvioDTE: 'EnvioDTE_v10.xsd',
  EnvioBOLETA: 'EnvioBOLETA_v11.xsd',
  RespuestaDTE: 'RespuestaEnvioDTE_v10.xsd',
  EnvioRecibos: 'EnvioRecibos_v10.xsd',
  ConsumoFolios: 'ConsumoFolio_v10.xsd',
  LibroCompraVenta: 'LibroCV_v10.xsd',
  LibroGuia: 'LibroGuia_v10.xsd',
  LibroBoleta: 'LibroBOLETA_v10.xsd',
  AEC: 'AEC_v10.xsd',
};

/**
 * A standalone boleta DTE has no global element in EnvioBOLETA_v11.xsd (its DTE is local to the
 * envelope); this generated wrapper schema declares one of that type.
 */
const BOLETA_WRAPPER = 'timbre-boleta-dte.xsd';
const BOLETA_WRAPPER_XSD = `<?xml version="1.0" encoding="UTF-8"?>
<xs:schema targetNamespace="http://www.sii.cl/SiiDte" xmlns:SiiDte="http://www.sii.cl/SiiDte" xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified">
<xs:include schemaLocation="EnvioBOLETA_v11.xsd"/>
<xs:element name="DTE" type="SiiDte:BOLETADefType"/>
</xs:schema>`;

/** What `validateDocument` needs of a parsed document (structurally, `@timbre/dte`'s XmlDocument). */
export interface ParsedDocument {
  /** The decoded document text. */
  text: string;
  /** The root element: its qualified and local name, namespace URI ('' when none), offset of its `<` in `text`. */
  root: { name: string; local: string; uri: string; start: number };
}

/**
 * A parsed document's text as libxml2 should get it. libxml2 in WebAssembly knows only UTF-8 and
 * Latin-1, so the decoded text is handed over as UTF-8 (declaration rewritten); files from the SII
 * or from issuers often lack the namespace, so it is added to the root (for the schema only).
 */
export function schemaInput(doc: ParsedDocument): Uint8Array {
  let text = doc.text;
  if (!doc.root.uri) {
    const at = doc.root.start + 1 + doc.root.name.length;
    text = `${text.slice(0, at)} xmlns="http://www.sii.cl/SiiDte"${text.slice(at)}`;
  }
  text = text.replace(/^\uFEFF?<\?xml[^?]*\?>/, '<?xml version="1.0" encoding="UTF-8"?>');
  return Buffer.from(text, 'utf8');
}

export interface SchemaResult {
  valid: boolean;
  schema: string;
  errors: string[];
}

export class SchemaSet {
  private constructor(
    readonly dir: string,
    private readonly files: { fileName: string; contents: Uint8Array }[],
  ) {}

  static async load(dir: string): Promise<SchemaSet> {
    if (!existsSync(dir)) throw new Error(`schema directory ${dir} does not exist. ${SCHEMAS_HELP}`);
    const names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.xsd'));
    if (!names.includes('DTE_v10.xsd')) throw new Error(`${dir} has no DTE_v10.xsd. ${SCHEMAS_HELP}`);
    const files = await Promise.all(names.map(async (fileName) => ({ fileName, contents: new Uint8Array(await readFile(path.join(dir, fileName))) })));
    files.push({ fileName: BOLETA_WRAPPER, contents: new TextEncoder().encode(BOLETA_WRAPPER_XSD) });
    return new SchemaSet(dir, files);
  }

  /** Validate XML bytes whose root is `root`; `boleta` selects the standalone boleta wrapper for `DTE`. */
  async validate(bytes: Uint8Array, root: string, boleta = false): Promise<SchemaResult | undefined> {
    const schemaName = root === 'DTE' && boleta ? BOLETA_WRAPPER : SCHEMA_BY_ROOT[root];
    if (!schemaName) return undefined;
    const main = this.files.find((f) => f.fileName === schemaName);
    if (!main) return { valid: false, schema: schemaName, errors: [`${schemaName} is not in ${this.dir}`] };
    const result = await validateXML({
      xml: [{ fileName: 'document.xml', contents: bytes }],
      schema: [main],
      preload: this.files.filter((f) => f !== main),
      maxMemoryPages: 16 * 1024,
    });
    return { valid: result.valid, schema: schemaName, errors: result.errors.map((e) => e.rawMessage.trim()) };
  }

  /** Validate a parsed document by its root element (see `schemaInput`); `undefined` when no schema covers the root. */
  async validateDocument(doc: ParsedDocument, boleta = false): Promise<SchemaResult | undefined> {
    return this.validate(schemaInput(doc), doc.root.local, boleta);
  }
}
