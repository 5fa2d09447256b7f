/**
 * @timbre/pdf — the printed representation of a DTE (sii-spec §13): a PDF rendered from the signed
 * XML (so received documents print too), with the TED as a PDF417 barcode (byte compaction,
 * error-correction level 5, ISO-8859-1 bytes of the flattened TED).
 */
export * from './options.js';
export * from './pdf417.js';
export * from './ted-barcode.js';
export { renderPdf, renderDocuments, type RenderDocument } from './render.js';
export { samplePng } from './fixtures.js';
