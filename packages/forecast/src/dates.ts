/** UTC day arithmetic on `YYYY-MM-DD` strings (no time zones involved). */
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_DAY = 86_400_000;

/** Day number (days since 1970-01-01) of a valid `YYYY-MM-DD`, or NaN. */
export function dayNumber(date: string): number {
  const m = DATE_RE.exec(date);
  if (!m) return NaN;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return NaN;
  return t / MS_DAY;
}

export function fromDayNumber(n: number): string {
  return new Date(n * MS_DAY).toISOString().slice(0, 10);
}

export function ymd(y: number, m: number, d: number): string {
  return fromDayNumber(Date.UTC(y, m - 1, d) / MS_DAY);
}

/** 0 = Sunday … 6 = Saturday. */
export function dayOfWeek(n: number): number {
  return (((n + 4) % 7) + 7) % 7;
}

export interface DayParts {
  year: number;
  month: number;
  day: number;
  dow: number;
}

export function parts(n: number): DayParts {
  const d = new Date(n * MS_DAY);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), dow: dayOfWeek(n) };
}

export function daysInMonth(y: number, m: number): number {
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}
