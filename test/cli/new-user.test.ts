import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from '../support/cli.js';

let root: string;
beforeAll(async () => (root = await mkdtemp(join(tmpdir(), 'tp-new-user-'))));
afterAll(() => rm(root, { recursive: true, force: true }));

/** A resolve hook that makes loading nodejs-polars fail: help and version must not need it. */
const NO_POLARS = `data:text/javascript,${encodeURIComponent(
  `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent('export async function resolve(s, c, next) { if (s === "nodejs-polars") throw new Error("nodejs-polars was loaded"); return next(s, c); }'));`,
)}`;

describe('help and version are instant', () => {
  it('--help, --version and every <command> --help run without loading Polars', () => {
    const cmds = ['--help', '--version', ...['run', 'sim', 'consolidate', 'status', 'verify', 'reconcile', 'clean', 'tail', 'report', 'adopt'].map((c) => `${c} --help`)];
    for (const c of cmds) {
      const r = spawnSync(process.execPath, ['--import', NO_POLARS, BIN, ...c.split(' ')], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
      expect({ c, code: r.status, err: r.stderr }).toEqual({ c, code: 0, err: '' });
    }
  });
});

describe('the package', () => {
  it('has a LICENSE matching package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string };
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });

  it('every dependency with an install script is decided in allowScripts (npm 11 prints no install-script warnings)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([path, p]) => path !== '' && p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    for (const name of withScripts) expect(pkg.allowScripts, name).toHaveProperty([name]);
  });

  it('npm start runs the demo on the simulator whatever the environment', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toMatch(/\brun --sim\b/);
  });
});

describe('first deviations from the demo', () => {
  it('run --sim with POLYGON_API_KEY exported runs on the simulator (the key is for other tools)', async () => {
    const out = join(root, 'sim-with-key');
    const r = await runCli(['run', '--sim', '--stage', 'detect', '--from', '2024-03-04', '--to', '2024-03-04', '--out', out, '--no-progress'], {
      env: { POLYGON_API_KEY: 'python-scripts-key' },
      timeoutMs: 240_000,
    });
    expect(r.stderr).not.toMatch(/--universe FILE is required/);
    expect(r.code).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'run.json'), 'utf8')).source).toEqual({ sim: { seed: 7 } });
  }, 300_000);

  it('--sim with --base-url is one clear usage line', async () => {
    const r = await runCli(['run', '--sim', '--base-url', 'https://api.polygon.io']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a bad --manifest is refused before run.json, logs/ or state/ exist', async () => {
    const out = join(root, 'bad-manifest');
    const manifest = join(root, 'bad.csv');
    await writeFile(manifest, 'a,b\n1,2\n');
    const r = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/manifest lacks column/);
    expect(existsSync(out) ? await readdir(out) : []).toEqual([]);
  });

  it('a --manifest whose values are wrong in every row (seconds, not a time) is refused before anything is written', async () => {
    for (const [name, cell, why] of [
      ['secs.csv', '1710169200', /looks like Unix seconds/],
      ['garbage.csv', 'notatime', /invalid timestamp "notatime"/],
    ] as const) {
      const out = join(root, `bad-values-${name}`);
      const manifest = join(root, name);
      await writeFile(manifest, `symbol,event_type,timestamp\nAAPL,volume_spike,${cell}\n`);
      const r = await runCli(['run', '--stage', 'ingest', '--sim', '--no-progress', '--manifest', manifest, '--out', out]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(why);
      expect(r.stdout, 'no progress lines before the error').toBe('');
      expect(existsSync(out) ? await readdir(out) : []).toEqual([]);
    }
    // Parquet with integer seconds: the same line.
    const { default: pl } = await import('nodejs-polars');
    const pq = join(root, 'secs.parquet');
    pl.DataFrame([pl.Series('symbol', ['AAPL']), pl.Series('event_type', ['volume_spike']), pl.Series('timestamp', [1710169200], pl.Int64)]).writeParquet(pq);
    const out = join(root, 'bad-values-parquet');
    const r = await runCli(['run', '--stage', 'ingest', '--sim', '--no-progress', '--manifest', pq, '--out', out]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/looks like Unix seconds/);
    expect(existsSync(out) ? await readdir(out) : []).toEqual([]);
  });

  it('--out pointing to a file gets one clear line', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    const r = await runCli(['run', '--out', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`tickpipe run: --out ${file} is a file, not a folder: give a folder for the run (it is created if missing)`]);
  });

  it('--out below a file gets one clear line naming the file', async () => {
    const file = join(root, 'a-file-parent');
    await writeFile(file, 'x');
    const r = await runCli(['run', '--out', join(file, 'sub', 'run1')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`tickpipe run: --out ${join(file, 'sub', 'run1')}: ${file} is a file, not a folder, so the run folder cannot be created below it`]);
  });

  it('report --output naming a folder gets one clear line before any work', async () => {
    const r = await runCli(['report', '--out', join(root, 'no-run'), '--output', root]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`tickpipe report: --output ${root} is a folder: give a file name, e.g. ${join(root, 'report.html')}`]);
  });

  it('a mistyped flag or command gets a "did you mean"', async () => {
    expect((await runCli(['run', '--workres', '2'])).stderr).toMatch(/did you mean --workers\?/);
    expect((await runCli(['stauts'])).stderr).toMatch(/did you mean status\?/);
  });
});

describe('a closed pipe', () => {
  it('tail --json | head -1 exits quietly, without an EPIPE stack trace', async () => {
    const dir = join(root, 'pipe-run');
    await rm(dir, { recursive: true, force: true });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'logs'), { recursive: true });
    await writeFile(join(dir, 'run.json'), JSON.stringify({ version: 1, source: { sim: { seed: 7 } } }) + '\n');
    const hb = (i: number) => JSON.stringify({ level: 30, time: Date.now() - 1000 + i, pid: 1, stage: 'ingest', partition: 0, last: `E${i}`, processed: i, failed: 0, skipped: 0, total: 100 });
    await writeFile(join(dir, 'logs', 'heartbeat.ndjson'), [0, 1, 2].map(hb).join('\n') + '\n');
    // Like `| head -1`: read one line, then close the pipe, then something new arrives.
    const child = spawn('/bin/sh', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} tail --json --out ${JSON.stringify(dir)} | head -1`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const { appendFile } = await import('node:fs/promises');
    const feeder = setInterval(() => void appendFile(join(dir, 'logs', 'heartbeat.ndjson'), hb(3) + '\n').catch(() => undefined), 200);
    const code = await new Promise<number | null>((res) => child.on('close', res));
    clearInterval(feeder);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/EPIPE|Error|at /);
    expect(code).toBe(0);
  }, 120_000);
});
