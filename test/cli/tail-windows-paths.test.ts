import { posix, win32 } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isNetworkPath, tailWatchFilter } from '../../src/cli/tail.js';

describe('tail on Windows paths', () => {
  it('watches state\\ under a backslash run folder (the hard-coded "/" never matched)', () => {
    const dir = 'D:\\data\\run1';
    const wanted = tailWatchFilter(dir, win32);
    expect(wanted('D:\\data\\run1\\state\\detect\\worker-0.jsonl')).toBe(true);
    expect(wanted('D:\\data\\run1\\state\\ingest')).toBe(true);
    expect(wanted('D:\\data\\run1\\logs\\heartbeat.ndjson')).toBe(true);
    expect(wanted('D:\\data\\run1\\windows\\symbol=AAOI')).toBe(false);
  });

  it('the same on POSIX', () => {
    const wanted = tailWatchFilter('/data/run1', posix);
    expect(wanted('/data/run1/state/detect/worker-0.jsonl')).toBe(true);
    expect(wanted('/data/run1/windows/symbol=AAOI')).toBe(false);
  });

  it('UNC paths (SMB shares) are polled: change events do not arrive there', () => {
    expect(isNetworkPath('\\\\nas\\share\\run1')).toBe(true);
    expect(isNetworkPath('//nas/share/run1')).toBe(true);
    expect(isNetworkPath('D:\\run1')).toBe(false);
    expect(isNetworkPath('/home/u/run1')).toBe(false);
  });
});
