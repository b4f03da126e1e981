import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

/** Every `import { … } from 'tickpipe…'` inside a JSDoc example of src/ (comment lines only). */
function jsdocImports(): Array<{ file: string; spec: string; names: string[] }> {
  const out: Array<{ file: string; spec: string; names: string[] }> = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        for (const line of readFileSync(p, 'utf8').split('\n')) {
          const m = /^\s*\*\s*import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'(tickpipe[^']*)'/.exec(line);
          if (m) out.push({ file: relative(ROOT, p), spec: m[2]!, names: m[1]!.split(',').map((s) => s.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!).filter(Boolean) });
        }
      }
    }
  };
  walk(join(ROOT, 'src'));
  return out;
}

describe('the package entry points', () => {
  it('every JSDoc example imports an exported entry point and names it exports', async () => {
    const found = jsdocImports();
    expect(found.length).toBeGreaterThan(10);
    const missing: string[] = [];
    for (const { file, spec, names } of found) {
      let mod: Record<string, unknown>;
      try {
        mod = (await import(spec)) as Record<string, unknown>;
      } catch (err) {
        missing.push(`${file}: ${spec} cannot be imported (${(err as Error).message.split('\n')[0]})`);
        continue;
      }
      for (const n of names) {
        // Types vanish at run time: a capitalised name may be an interface; check those in the .d.ts.
        if (!(n in mod) && !/^[A-Z]/.test(n)) missing.push(`${file}: ${spec} has no export ${n}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('require() works (CommonJS callers on Node 20.19+, through require(esm))', () => {
    const require = createRequire(join(ROOT, 'package.json'));
    expect(typeof require('tickpipe').detectStage).toBe('function');
    const ops = require('tickpipe/ops');
    for (const f of ['writeReport', 'runStatus', 'cleanRun', 'reconcileRun', 'adopt', 'verifyRun']) expect(typeof ops[f]).toBe('function');
  });
});
