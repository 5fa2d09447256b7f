/**
 * SII timestamps (TmstFirma, TSTED, TmstFirmaEnv) are local Chilean time without a zone
 * (`2026-11-27T10:15:00`), as in every SII sample.
 */
import { TimbreError } from './errors.js';

export const SII_TIME_ZONE = 'America/Santiago';
const LOCAL = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})$/;
// Built once: constructing an Intl.DateTimeFormat costs more than formatting with it.
const CHILE_FORMAT = new Intl.DateTimeFormat('en-CA', {
  timeZone: SII_TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/**
 * Normalize a moment to the SII timestamp form. A string without zone (`2026-11-27T10:15:00`) is
 * taken as Chilean local time verbatim; one with a zone (`Z`, `-03:00`) or a Date is converted.
 */
export function siiTimestamp(at: Date | string = new Date()): string {
  if (typeof at === 'string') {
    const s = at.trim();
    const m = LOCAL.exec(s.length === 16 ? `${s}:00` : s);
    if (m) return `${m[1]}T${m[2]}`;
    const d = new Date(s);
    if (Number.isNaN(d.getTime())) throw new TimbreError('ERR_INPUT_INVALID', `"${at}" is not an ISO date-time`, { field: 'now', actual: at });
    return siiTimestamp(d);
  }
  const parts = CHILE_FORMAT.formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}:${get('second')}`;
}

/** The date part of an SII timestamp. */
export const siiDate = (ts: string): string => ts.slice(0, 10);

/** The instant of a zone-less SII timestamp read as Chilean local time (UTC−3 or UTC−4). */
export function siiTimestampToDate(ts: string): Date {
  const local = siiTimestamp(ts);
  const base = Date.parse(`${local}Z`);
  for (const hours of [3, 4, 5]) {
    const d = new Date(base + hours * 3600_000);
    if (siiTimestamp(d) === local) return d;
  }
  return new Date(base + 3 * 3600_000); // a local time skipped by a DST change
}
