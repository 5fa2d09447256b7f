import { describe, expect, it } from 'vitest';
import { Rut, computeDv, normalizeRut } from '../src/rut.js';
import { TimbreError } from '../src/errors.js';

describe('RUT', () => {
  it('computes mod-11 check digits, including 0 and K', () => {
    expect(computeDv(76086428)).toBe('5');
    expect(computeDv('60803000')).toBe('K');
    expect(computeDv(96874030)).toBe('K');
    expect(computeDv(12345678)).toBe('5');
    expect(computeDv(11111111)).toBe('1');
    expect(computeDv(6)).toBe('K');
    expect(computeDv(1000013)).toBe('0');
  });

  it('normalizes dotted, lower-case, spaced and dash-less input to the canonical form', () => {
    expect(Rut.parse(' 96.874.030-k ').canonical).toBe('96874030-K');
    expect(Rut.parse('760864285').canonical).toBe('76086428-5');
    expect(Rut.parse('0076086428-5').canonical).toBe('76086428-5');
    expect(Rut.parse('76086428-5').verbose).toBe('76.086.428-5');
    expect(Rut.parse('1-9').verbose).toBe('1-9');
  });

  it('refuses a wrong check digit with the expected RUT, unless told not to validate', () => {
    try {
      Rut.parse('76086428-6', { field: 'emisor.rut' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TimbreError);
      const err = e as TimbreError;
      expect(err.code).toBe('ERR_RUT_INVALID');
      expect(err.field).toBe('emisor.rut');
      expect(err.expected).toBe('76086428-5');
    }
    expect(Rut.parse('76086428-6', { validateDv: false }).canonical).toBe('76086428-6');
  });

  it('refuses malformed input', () => {
    for (const bad of ['', '-', 'abc-1', '123456789-0', '7608642A-5', '76086428-X', '76086428--5']) {
      expect(() => Rut.parse(bad), bad).toThrow(TimbreError);
    }
    expect(Rut.isValid('60803000-K')).toBe(true);
    expect(Rut.isValid('60803000-1')).toBe(false);
  });

  it('compares RUTs whatever their format', () => {
    expect(Rut.parse('96874030-K').equals('96.874.030-k')).toBe(true);
    expect(normalizeRut('12.345.678-5')).toBe('12345678-5');
  });
});
