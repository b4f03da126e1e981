/**
 * Every command line of README.md and of every `--help` text runs (issue 14, point 1: the
 * documented `--window -10m,+20m` form failed and no test noticed). Commands are found by
 * test/support/doc-commands.ts, never listed here; this file only says how to run a kind of
 * command here: the real API is replaced by a simulator (`--base-url`), years by a day, a folder
 * placeholder by a run folder made once. A command nothing here knows how to run fails the test,
 * so a new documented command gets a rule instead of going unchecked.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandIndex } from '../../src/cli/commands.js';
import { BIN, ROOT, runCli, spawnCli, type CliResult } from '../support/cli.js';
import { commandsInHelp, commandsInMarkdown, normalizeCommand, words, type DocCommand } from '../support/doc-commands.js';

const DAY = '2024-03-04';
let tmp: string;
let sim: { url: string; port: string; stop(): Promise<void> };
/** A finished run folder (both stages, one day of the demo) for the commands that read one. */
let runDir: string;
/** Where this test compiles examples/ (inside the package, so `import 'tickpipe'` resolves). */
let examplesDir: string;

async function helpTexts(): Promise<Array<{ name: string; help: string }>> {
  const out: Array<{ name: string; help: string }> = [];
  for (const c of await commandIndex()) {
    const r = await runCli([c.name, '--help']);
    expect(r.code, `${c.name} --help`).toBe(0);
    out.push({ name: c.name, help: r.stdout });
  }
  return out;
}

async function allDocumented(): Promise<DocCommand[]> {
  const found = commandsInMarkdown(readFileSync(join(ROOT, 'README.md'), 'utf8'), 'README.md');
  for (const { name, help } of await helpTexts()) found.push(...commandsInHelp(help, name));
  const top = await runCli(['--help']);
  found.push(...commandsInHelp(top.stdout, '').map((c) => ({ ...c, source: 'tickpipe --help' })));
  return found;
}

/** How one documented command runs here. */
type Plan =
  | { readonly kind: 'cli'; readonly argv: string[]; readonly env?: Record<string, string>; readonly expect: number }
  | { readonly kind: 'process'; readonly cmd: string; readonly args: string[]; readonly expect: number; readonly ranIf?: RegExp }
  /** A command that cannot run inside the test suite (it is the test suite, or reinstalls it): its target is checked instead. */
  | { readonly kind: 'checked'; readonly why: string; check(): void };

const pkg = () => JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; scripts: Record<string, string>; dependencies: Record<string, string> };

/** Shortens a run: the simulator, one day. Flags the user gave win over the defaults. */
function shortRun(args: string[], out: string): string[] {
  const has = (f: string) => args.some((a) => a === f || a.startsWith(`${f}=`));
  const extra: string[] = ['--no-progress'];
  if (!has('--out')) extra.push('--out', out);
  if (!has('--base-url') && !has('--sim')) extra.push('--sim');
  if (!has('--from')) extra.push('--from', DAY);
  if (!has('--to')) extra.push('--to', DAY);
  return [...args, ...extra];
}

function replaceValue(args: string[], flag: string, value: string): string[] {
  const i = args.indexOf(flag);
  if (i < 0) return args;
  const copy = [...args];
  copy[i + 1] = value;
  return copy;
}

function plan(line: string, n: number): Plan {
  const w = words(line);
  const fresh = join(tmp, `run-${n}`);
  if (w[0] === 'npm') {
    const script = w[1] === 'run' ? w[2]! : w[1]!;
    if (script === 'ci' || script === 'install') return { kind: 'checked', why: 'installs the package (would replace the node_modules this test runs from)', check: () => (script === 'install' ? expect(w).toContain(pkg().name) : expect(existsSync(join(ROOT, 'package-lock.json'))).toBe(true)) };
    if (script === 'test' || script === 'bench' || script === 'bench:cluster' || script === 'soak') return { kind: 'checked', why: `runs the ${script === 'test' ? 'whole suite (this test is part of it)' : `${script} (minutes)`}`, check: () => expect(pkg().scripts[script]).toBeTruthy() };
    if (script === 'build') return { kind: 'checked', why: 'rewrites dist/, which the other test files run from while this one runs; `npm test` runs it first', check: () => expect(pkg().scripts.build).toMatch(/tsc/) };
    if (script === 'start') {
      // The demo, shortened: npm passes what follows `--` to `tickpipe run --sim`.
      return { kind: 'process', cmd: 'npm', args: ['start', '--', '--stage', 'detect', '--from', DAY, '--to', DAY, '--out', fresh, '--no-progress'], expect: 0 };
    }
  }
  if (w[0] === 'npx' && w[1] === 'tsc' && w.includes('tsconfig.examples.json')) return { kind: 'process', cmd: 'npx', args: [...w.slice(1), '--outDir', examplesDir], expect: 0 };
  if (w[0] === 'npx' && w[1] === 'vitest') {
    // Runs a folder of tests that the suite also runs: whether each of them passes is reported there
    // (timing tests of other folders can fail under load); here the command must run that folder.
    return { kind: 'process', cmd: 'npx', args: w.slice(1), expect: 0, ranIf: /Test Files .*\(\d+\)/ };
  }
  if (w[0] === 'npx' && w[1] !== 'tickpipe') return { kind: 'process', cmd: 'npx', args: w.slice(1), expect: 0 };
  if (w[0] === 'node' && w[1]!.startsWith('dist-examples/')) {
    return { kind: 'process', cmd: process.execPath, args: replaceValue([join(examplesDir, w[1]!.slice('dist-examples/'.length)), ...w.slice(2)], '--out', fresh), expect: 0 };
  }
  if (w[0] === 'node' && w[1] === 'detect.mjs') return { kind: 'checked', why: "the README's library example: run by test/examples/examples.test.ts against a simulator", check: () => expect(readFileSync(join(ROOT, 'test/examples/examples.test.ts'), 'utf8')).toMatch(/README's library example/) };
  if (w[0] === 'New-Item' || w[0] === 'Remove-Item') {
    return { kind: 'checked', why: 'PowerShell is not installed here; the PAUSE flag these create and delete is tested by test/streams/pause-flag.test.ts', check: () => expect(line).toMatch(/PAUSE$/) };
  }
  if (w[0] === 'export' || w[0]!.startsWith('$env:')) return { kind: 'checked', why: 'sets the API key for the commands after it (they run with a test key against the simulator)', check: () => expect(line).toMatch(/POLYGON_API_KEY/) };
  if (w[0] !== 'tickpipe') throw new Error(`no rule to run the documented command: ${line}`);
  // Cluster commands name a Redis on another host: never connect there from a test (loopback only).
  // Their shape (run --cluster URL … / worker --cluster URL --out DIR) is run for real by the
  // three-host test against its own Redis and simulator.
  if (w.includes('--cluster') || w[1] === 'worker') {
    return {
      kind: 'checked',
      why: 'names a Redis on another host; the same commands run in test/cluster/three-hosts.test.ts against a Redis the test starts',
      check: () => {
        const t = readFileSync(join(ROOT, 'test/cluster/three-hosts.test.ts'), 'utf8');
        expect(t).toMatch(/'--cluster'/);
        expect(t).toMatch(w[1] === 'worker' ? /'worker'/ : /'run'/);
      },
    };
  }
  const [, rawSub, ...rest] = w;
  const sub = rawSub === '<command>' ? 'status' : rawSub;
  // Placeholders of usage lines: a checkpoint for adopt's FILE, a number for N, loopback for an address
  // (ADDR: never resolved as a host name), the <command> of the top-level usage.
  const checkpoint = join(tmp, `checkpoint-${n}.json`);
  writeFileSync(checkpoint, '{"completed_events": []}\n');
  let args = rest
    .map((a, i) => (a === 'DIR' || /^[A-Z]:\\/.test(a) ? runDir : a === 'KEY' ? 'test-key' : a === 'ADDR' ? '127.0.0.1' : a === 'N' ? '2' : a.startsWith('FILE') ? (rest[i - 1] === '--checkpoint' ? checkpoint : join(tmp, `file-${n}.html`)) : a === 'PATH' ? join(tmp, 'old-tree') : a))
    .filter((a) => a !== '...');
  switch (sub) {
    case undefined:
      return { kind: 'cli', argv: [], expect: 2 }; // bare `tickpipe`: the usage, exit 2 as documented
    case 'run': {
      if (args.includes('--universe')) {
        // The real-API example: the simulator stands in for api.polygon.io, two symbols for the file.
        const universe = join(tmp, `universe-${n}.txt`);
        writeFileSync(universe, 'AAOI\nBOXL\n');
        args = replaceValue(replaceValue(replaceValue(args, '--universe', universe), '--from', DAY), '--to', DAY);
        return { kind: 'cli', argv: ['run', ...shortRun([...replaceValue(args, '--out', fresh), '--base-url', sim.url], fresh)], env: { POLYGON_API_KEY: 'test-key' }, expect: 0 };
      }
      if (args.includes('--detector-module')) {
        args = replaceValue(args, '--detector-module', join(examplesDir, 'my-detectors.mjs'));
        return { kind: 'cli', argv: ['run', ...shortRun(['--stage', 'detect', ...args], fresh)], expect: 0 };
      }
      if (args.includes('--stage') && args[args.indexOf('--stage') + 1] === 'ingest') {
        const copy = join(tmp, `ingest-${n}`);
        cpSync(runDir, copy, { recursive: true });
        return { kind: 'cli', argv: ['run', ...shortRun(['--out', copy, ...args], copy)], expect: 0 };
      }
      return { kind: 'cli', argv: ['run', ...shortRun(args.includes('--stage') || args.includes('--window') ? args : ['--stage', 'detect', ...args], fresh)], expect: 0 };
    }
    case 'sim':
      return { kind: 'cli', argv: ['sim', ...replaceValue(args, '--port', '0')], expect: 0 };
    case 'adopt':
      mkdirSync(join(tmp, 'old-tree'), { recursive: true });
      return { kind: 'cli', argv: ['adopt', ...replaceValue(args, '--out', join(tmp, `adopted-${n}`)), ...(args.includes('--out') ? [] : ['--out', join(tmp, `adopted-${n}`)])], expect: 0 };
    case 'tail':
      // Without --once, tail runs until Ctrl-C: run it so, and stop it like a user.
      return { kind: 'cli', argv: ['tail', ...args, ...(args.includes('--out') ? [] : ['--out', runDir])], expect: 0 };
    default: {
      // Every other command reads or repairs a run folder: the one made for this test (a copy, as some repair).
      const copy = join(tmp, `ops-${n}`);
      cpSync(runDir, copy, { recursive: true });
      const out = args.includes('--out') ? replaceValue(args, '--out', copy) : [...args, '--out', copy];
      return { kind: 'cli', argv: [sub, ...out], expect: 0 };
    }
  }
}

/** Runs a CLI command; `sim` and `tail` (without --once) serve until stopped: stop them with SIGINT once they are up. */
async function runPlanned(p: Extract<Plan, { kind: 'cli' }>): Promise<CliResult> {
  const serves = (p.argv[0] === 'sim' && !p.argv.includes('--help')) || (p.argv[0] === 'tail' && !p.argv.includes('--once'));
  if (!serves) return runCli(p.argv, { timeoutMs: 600_000, ...(p.env ? { env: p.env } : {}) });
  const child = spawnCli(p.argv, { timeoutMs: 120_000 });
  await child.waitFor(p.argv[0] === 'sim' ? /listening on/ : /tickpipe tail|\{"at"/, 60_000);
  child.child.kill('SIGINT');
  return child.done;
}

function runProcess(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // A developer's real key must not reach a documented command run by a test.
    const env = { ...process.env };
    delete env.POLYGON_API_KEY;
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'tp-doc-commands-'));
  const s = spawnCli(['sim', '--port', '0', '--seed', '7'], { timeoutMs: 3_600_000 });
  await s.waitFor(/listening on (http:\/\/\S+)/);
  const url = /listening on (http:\/\/\S+)/.exec(s.stdout())![1]!;
  sim = { url, port: new URL(url).port, stop: async () => void (s.child.kill('SIGINT'), await s.done) };
  // The detector-module example needs compiled examples: the README's `npx tsc -p tsconfig.examples.json`,
  // into a folder of this test's own (other test files read dist-examples/ while this one runs).
  examplesDir = join(ROOT, `.doc-test-examples-${process.pid}`);
  const built = await new Promise<number | null>((res) => spawn('npx', ['tsc', '-p', 'tsconfig.examples.json', '--outDir', examplesDir], { cwd: ROOT, stdio: 'ignore' }).on('close', res));
  expect(built).toBe(0);
  writeFileSync(join(examplesDir, 'my-detectors.mjs'), "import { gapUp } from './gap-up.js';\nexport const detectors = [gapUp({ minGapPct: 8 })];\n");
  runDir = join(tmp, 'run');
  const made = await runCli(['run', '--sim', '--from', DAY, '--to', DAY, '--out', runDir, '--no-progress'], { timeoutMs: 600_000 });
  expect(made.code, made.stderr).toBe(0);
}, 700_000);

afterAll(async () => {
  await sim?.stop();
  await rm(tmp, { recursive: true, force: true });
  if (examplesDir) await rm(examplesDir, { recursive: true, force: true });
});

describe('every documented command line runs', () => {
  it('README.md and every --help text', async () => {
    const documented = await allDocumented();
    // The documented form of the flag that broke, and commands of several sections, must be found.
    // `a && b` is two commands, run in order.
    const lines = new Set(documented.flatMap((d) => d.text.split(/\s+&&\s+/)).map(normalizeCommand));
    expect([...lines]).toContain('tickpipe run --window -10m,+20m');
    expect([...lines].some((l) => l.startsWith('tickpipe tail'))).toBe(true);
    const failures: string[] = [];
    let n = 0;
    for (const line of lines) {
      const p = plan(line, n++);
      const where = documented.filter((d) => d.text.includes(line.replace(/^tickpipe/, '')) || normalizeCommand(d.text).includes(line)).map((d) => d.source)[0] ?? 'docs';
      if (p.kind === 'checked') {
        p.check();
        console.log(`[docs] checked, not run (${p.why}): ${line}`);
        continue;
      }
      const r =
        p.kind === 'cli'
          ? await runPlanned(p)
          : await runProcess(p.cmd, p.args).then((x) => ({ code: p.ranIf?.test(x.output) ? p.expect : x.code, stdout: x.output, stderr: '' }));
      const shown = p.kind === 'cli' ? `tickpipe ${p.argv.join(' ')}` : `${p.cmd} ${p.args.join(' ')}`;
      console.log(`[docs] ${r.code === p.expect ? 'ok ' : 'FAIL'} ${line}  →  ${shown}`);
      if (r.code !== p.expect) failures.push(`${where}: ${line}\n  ran: ${shown}\n  exit ${r.code}, want ${p.expect}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    }
    expect(failures).toEqual([]);
  }, 1_800_000);
});
