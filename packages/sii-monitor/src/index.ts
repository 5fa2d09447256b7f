/**
 * @timbre/sii-monitor: the SII's publication pages (circulares, resoluciones, news) → typed items,
 * a deterministic relevance/priority classifier, and `SiiMonitor` (fetch + diff against a caller's
 * store). Pure apart from the injectable fetch; persistence and notification live in the AI service.
 */
export * from './errors.js';
export { decodeHtml, declaredCharset } from './decode.js';
export { findDate, fold } from './dates.js';
export * from './parse.js';
export * from './classify.js';
export * from './monitor.js';
