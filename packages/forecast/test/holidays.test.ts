import { describe, expect, it } from 'vitest';
import { chileanHolidays, easterSunday, isChileanHoliday, juneSolsticeDay } from '../src/index.js';

const dates = (y: number) => chileanHolidays(y).map((h) => h.date);

describe('chileanHolidays', () => {
  it('2025 (published calendar, election days excluded)', () => {
    expect(dates(2025)).toEqual([
      '2025-01-01', '2025-04-18', '2025-04-19', '2025-05-01', '2025-05-21', '2025-06-20', '2025-06-29', '2025-07-16',
      '2025-08-15', '2025-09-18', '2025-09-19', '2025-10-12', '2025-10-31', '2025-11-01', '2025-12-08', '2025-12-25',
    ]);
  });
  it('2026', () => {
    expect(dates(2026)).toEqual([
      '2026-01-01', '2026-04-03', '2026-04-04', '2026-05-01', '2026-05-21', '2026-06-21', '2026-06-29', '2026-07-16',
      '2026-08-15', '2026-09-18', '2026-09-19', '2026-10-12', '2026-10-31', '2026-11-01', '2026-12-08', '2026-12-25',
    ]);
  });
  it('moves holidays per laws 19.668, 20.299, 20.215 and 20.983', () => {
    const d23 = dates(2023);
    expect(d23).toContain('2023-06-26'); // 29 Jun Thursday → Monday 26
    expect(d23).toContain('2023-10-09'); // 12 Oct Thursday → Monday 9
    expect(d23).toContain('2023-10-27'); // 31 Oct Tuesday → Friday 27
    expect(d23).not.toContain('2023-10-31');
    expect(dates(2024)).toContain('2024-09-20'); // Friday after Fiestas Patrias
    expect(dates(2018)).toContain('2018-09-17'); // Monday before Fiestas Patrias
    expect(dates(2029)).toContain('2029-07-02'); // 29 Jun Friday → next Monday
    expect(dates(2029)).not.toContain('2029-06-29');
  });
  it('Easter and the solstice', () => {
    expect(easterSunday(2024)).toBe('2024-03-31');
    expect(easterSunday(2025)).toBe('2025-04-20');
    expect(easterSunday(2026)).toBe('2026-04-05');
    expect(juneSolsticeDay(2031)).toBe(21); // Meeus: 21 Jun 2031 ~13:17 UTC
    expect(dates(2020).filter((d) => d === '2020-06-20' || d === '2020-06-21')).toEqual([]); // law 21.357 starts 2021
  });
  it('isChileanHoliday', () => {
    expect(isChileanHoliday('2025-09-18')).toBe(true);
    expect(isChileanHoliday('2025-09-17')).toBe(false);
  });
});
