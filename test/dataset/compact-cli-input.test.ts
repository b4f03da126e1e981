/** `tickpipe compact` on bad input: one line, exit 2, nothing written. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { fastTempDir } from '../sinks/crash-fs.js';

describe('tickpipe compact: bad input', () => {
  it('refuses a folder without run.json and an unknown flag with one line and exit 2', async () => {
    const { dir, cleanup } = await fastTempDir('tickpipe-compact-cli-');
    try {
      const r = await runCli(['compact', '--out', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('no run.json');
      expect(existsSync(join(dir, 'state'))).toBe(false);
      const f = await runCli(['compact', '--out', dir, '--remove-window']);
      expect(f.code).toBe(2);
      expect(f.stderr.trim().split('\n')).toHaveLength(1);
      expect(f.stderr).toContain('--remove-window');
    } finally {
      await cleanup();
    }
  }, 60_000);
});
