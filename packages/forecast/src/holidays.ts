/**
 * Chilean national public holidays (feriados legales), computed — no table lookup beyond the
 * June solstice overrides.
 *
 * Included:
 * - fixed: 1 Jan, 1 May, 21 May, 16 Jul, 15 Aug, 18 Sep, 19 Sep, 1 Nov, 8 Dec, 25 Dec;
 * - Good Friday and Holy Saturday (from the Gregorian Easter, anonymous algorithm);
 * - 29 Jun (San Pedro y San Pablo) and 12 Oct (Encuentro de Dos Mundos), law 19.668: on a Tuesday,
 *   Wednesday or Thursday moved to the Monday of the same week; on a Friday to the next Monday;
 * - 31 Oct (Iglesias Evangélicas y Protestantes, law 20.299 from 2008): on a Tuesday moved to the
 *   previous Friday (27 Oct), on a Wednesday to the next Friday (2 Nov);
 * - 17 Sep when it is a Monday (law 20.215) and 20 Sep when it is a Friday (law 20.983, 2017+);
 * - Día Nacional de los Pueblos Indígenas (law 21.357, 2021+): the day of the June solstice in
 *   continental Chile (UTC−4). 2021–2030 are fixed from the published dates; other years use Meeus'
 *   mean solstice formula (error of minutes, enough unless the solstice falls within ~30 min of
 *   midnight Chilean time — APPROXIMATED).
 *
 * Not included (APPROXIMATED by omission): election/plebiscite days (declared per election),
 * one-off holidays declared by ad-hoc laws (e.g. 2 Jan 2017, 16 Sep 2022), regional holidays
 * (7 Jun Arica, 20 Aug Chillán), and the 31 Dec bank holiday (not a public holiday).
 */
import { dayOfWeek, dayNumber, fromDayNumber, ymd } from './dates.js';

export interface Holiday {
  date: string;
  name: string;
}

/** Gregorian Easter Sunday (Meeus/Jones/Butcher). */
export function easterSunday(year: number): string {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return ymd(year, month, day);
}

const SOLSTICE_DAY: Record<number, number> = {
  2021: 21, 2022: 21, 2023: 21, 2024: 20, 2025: 20, 2026: 21, 2027: 21, 2028: 20, 2029: 20, 2030: 21,
};

/** June solstice day-of-month in Chile (UTC−4). */
export function juneSolsticeDay(year: number): number {
  const fixed = SOLSTICE_DAY[year];
  if (fixed !== undefined) return fixed;
  const y = (year - 2000) / 1000;
  const jde = 2451716.56767 + 365241.62603 * y + 0.00325 * y * y + 0.00888 * y ** 3 - 0.0003 * y ** 4;
  // JD → Unix ms (TT ≈ UT, ~70 s difference ignored), then shift to UTC−4.
  const ms = (jde - 2440587.5) * 86_400_000 - 4 * 3_600_000;
  return new Date(ms).getUTCDate();
}

/** Law 19.668: Tue/Wed/Thu → Monday of that week; Fri → next Monday; otherwise unchanged. */
function law19668(n: number): number {
  const dow = dayOfWeek(n);
  if (dow >= 2 && dow <= 4) return n - (dow - 1);
  if (dow === 5) return n + 3;
  return n;
}

export function chileanHolidays(year: number): Holiday[] {
  const out: Holiday[] = [];
  const add = (date: string, name: string) => out.push({ date, name });
  const fixed = (m: number, d: number, name: string) => add(ymd(year, m, d), name);
  fixed(1, 1, 'Año Nuevo');
  const easter = dayNumber(easterSunday(year));
  add(fromDayNumber(easter - 2), 'Viernes Santo');
  add(fromDayNumber(easter - 1), 'Sábado Santo');
  fixed(5, 1, 'Día Nacional del Trabajo');
  fixed(5, 21, 'Día de las Glorias Navales');
  if (year >= 2021) fixed(6, juneSolsticeDay(year), 'Día Nacional de los Pueblos Indígenas');
  add(fromDayNumber(law19668(dayNumber(ymd(year, 6, 29)))), 'San Pedro y San Pablo');
  fixed(7, 16, 'Día de la Virgen del Carmen');
  fixed(8, 15, 'Asunción de la Virgen');
  const s17 = dayNumber(ymd(year, 9, 17));
  if (dayOfWeek(s17) === 1) add(ymd(year, 9, 17), 'Fiestas Patrias (17 de septiembre, lunes)');
  fixed(9, 18, 'Independencia Nacional');
  fixed(9, 19, 'Día de las Glorias del Ejército');
  const s20 = dayNumber(ymd(year, 9, 20));
  if (year >= 2017 && dayOfWeek(s20) === 5) add(ymd(year, 9, 20), 'Fiestas Patrias (20 de septiembre, viernes)');
  add(fromDayNumber(law19668(dayNumber(ymd(year, 10, 12)))), 'Encuentro de Dos Mundos');
  if (year >= 2008) {
    const o31 = dayNumber(ymd(year, 10, 31));
    const dow = dayOfWeek(o31);
    const n = dow === 2 ? o31 - 4 : dow === 3 ? o31 + 2 : o31;
    add(fromDayNumber(n), 'Día de las Iglesias Evangélicas y Protestantes');
  }
  fixed(11, 1, 'Día de Todos los Santos');
  fixed(12, 8, 'Inmaculada Concepción');
  fixed(12, 25, 'Navidad');
  return out.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));
}

const cache = new Map<number, Set<number>>();

/** Whether day number `n` is a Chilean national holiday. */
export function isHolidayDay(n: number): boolean {
  const year = new Date(n * 86_400_000).getUTCFullYear();
  let set = cache.get(year);
  if (!set) {
    set = new Set(chileanHolidays(year).map((h) => dayNumber(h.date)));
    cache.set(year, set);
  }
  return set.has(n);
}

export function isChileanHoliday(date: string): boolean {
  return isHolidayDay(dayNumber(date));
}
