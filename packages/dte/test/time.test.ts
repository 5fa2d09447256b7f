import { describe, expect, it } from 'vitest';
import { siiTimestamp, siiTimestampToDate } from '../src/time.js';
import { TimbreError } from '../src/errors.js';

describe('SII timestamps', () => {
  it('keeps a zone-less local time verbatim', () => {
    expect(siiTimestamp('2026-11-27T10:15:00')).toBe('2026-11-27T10:15:00');
    expect(siiTimestamp('2026-11-27T10:15')).toBe('2026-11-27T10:15:00');
  });
  it('converts zoned instants to Chilean local time (summer UTC-3, winter UTC-4)', () => {
    expect(siiTimestamp('2026-01-15T15:00:00Z')).toBe('2026-01-15T12:00:00');
    expect(siiTimestamp(new Date('2026-07-15T15:00:00Z'))).toBe('2026-07-15T11:00:00');
  });
  it('refuses garbage', () => {
    expect(() => siiTimestamp('yesterday')).toThrow(TimbreError);
  });
});

describe('siiTimestampToDate', () => {
  it('reads a local timestamp as Chilean time, summer and winter', () => {
    expect(siiTimestampToDate('2026-01-15T12:00:00').toISOString()).toBe('2026-01-15T15:00:00.000Z');
    expect(siiTimestampToDate('2026-07-15T11:00:00').toISOString()).toBe('2026-07-15T15:00:00.000Z');
  });
});
