import { describe, expect, it } from 'vitest';
import { DiskError } from '../../src/errors.js';
import { classifyNativeWriteError, NEARLY_FULL_BYTES } from '../../src/sinks/native-write-error.js';

describe('issue 15 point 5: a native Parquet write error names the file (and ENOSPC on a full disk)', () => {
  const path = '/out/windows/symbol=A/event=X/trades.parquet';
  it('"Invalid thrift: transport error" on a full filesystem is disk full writing <file> (ENOSPC)', () => {
    const e = classifyNativeWriteError(new Error('Invalid thrift: transport error'), path, 4096);
    expect(e).toBeInstanceOf(DiskError);
    expect((e as Error).message).toBe(`disk full writing ${path} (ENOSPC; the Parquet writer said: Invalid thrift: transport error)`);
  });
  it('with space left it still names the file', () => {
    const e = classifyNativeWriteError(new Error('Invalid thrift: transport error'), path, NEARLY_FULL_BYTES * 10);
    expect((e as Error).message).toBe(`writing ${path} failed: Invalid thrift: transport error`);
  });
  it('errno errors and non-I/O errors pass through unchanged (toDiskError handles the former)', () => {
    const errno = Object.assign(new Error('ENOSPC: no space'), { code: 'ENOSPC' });
    expect(classifyNativeWriteError(errno, path, 0)).toBe(errno);
    const os = new Error('No space left on device (os error 28)');
    expect(classifyNativeWriteError(os, path, 0)).toBe(os);
    const schema = new Error('cannot cast List to Int64');
    expect(classifyNativeWriteError(schema, path, 0)).toBe(schema);
  });
});
