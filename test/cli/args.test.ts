import { describe, expect, it } from 'vitest';
import { closestFlag, joinDashValues, parseFlags } from '../../src/args.js';
import { UsageError } from '../../src/errors.js';

const FLAGS = { window: { type: 'string' }, out: { type: 'string' }, once: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

describe('flag values that start with "-"', () => {
  it('--window -10m,+20m (the documented form) is accepted, as is --window=-10m,+20m', () => {
    expect(parseFlags('run', ['--window', '-10m,+20m'], FLAGS).values.window).toBe('-10m,+20m');
    expect(parseFlags('run', ['--window=-10m,+20m'], FLAGS).values.window).toBe('-10m,+20m');
    expect(joinDashValues(['--window', '-5m,+5m', '--once'], FLAGS)).toEqual(['--window=-5m,+5m', '--once']);
  });

  it('a flag followed by another flag still has no value', () => {
    expect(() => parseFlags('tail', ['--out', '--once'], FLAGS)).toThrow(UsageError);
    expect(() => parseFlags('tail', ['--out', '-h'], FLAGS)).toThrow(/--out/);
  });
});

describe('did you mean', () => {
  it('names the nearest flag of a mistyped one', () => {
    expect(() => parseFlags('run', ['--windw', '1'], FLAGS)).toThrow(/Unknown option '--windw'; did you mean --window\?/);
    expect(closestFlag('--onc', Object.keys(FLAGS))).toBe('once');
    expect(closestFlag('--zzzzzz', Object.keys(FLAGS))).toBeUndefined();
  });
});
