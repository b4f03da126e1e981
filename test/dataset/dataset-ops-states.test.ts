/**
 * The dataset's unfinished states as `report`, `reconcile` and `clean` see them, on a run folder
 * left as a stopped compaction leaves it: one symbol compacted, one not; a committed part whose
 * files are still staged (killed between the journal line and the rename); a staged part no journal
 * line names (killed before the line); a tmp file in staging (killed while writing).
 * report shows the same figures as status; reconcile reports them and changes nothing; clean
 * removes exactly the uncommitted files (and refuses while a compaction holds the lock); the next
 * compaction publishes the committed part and compacts the rest; verify is then clean. While a
 * live process holds the compaction lock, verify skips the files that compaction has in flight.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compact } from '../../src/dataset/compact.js';
import { datasetSummary } from '../../src/dataset/check.js';
import { datasetPaths, partPaths } from '../../src/dataset/layout.js';
import { LockedError } from '../../src/errors.js';
import { cleanRun } from '../../src/ops/clean.js';
import { reconcileRun } from '../../src/ops/reconcile.js';
import { buildReport, renderReportHtml } from '../../src/ops/report.js';
import { verifyRun } from '../../src/ops/verify.js';
import { acquireLock } from '../../src/run-folder/lock-file.js';
import { quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { ensureRunSpec } from '../../src/run-folder/run-spec.js';
import { WindowWriter } from '../../src/sinks/window-sink.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { fastTempDir } from '../sinks/crash-fs.js';
import { runCli } from '../support/cli.js';
import { fakeQuotes, fakeTrades } from '../sinks/helpers.js';

describe('dataset states in report, reconcile and clean', () => {
  it('report shows them, reconcile reports them, clean removes only the uncommitted, compact finishes', async () => {
    const { dir: out, cleanup } = await fastTempDir('tickpipe-ds-states-');
    try {
      await ensureRunSpec(out, { version: 1, source: { baseUrl: 'http://127.0.0.1:1' }, universe: { hash: 'c'.repeat(64), count: 3 }, from: '2024-03-04', to: '2024-03-06', detectors: {} });
      const syms = ['ABVC', 'ABVC', 'BOXL', 'CYCN'];
      const ids = syms.map((s, i) => canonicalEventId(s, 'volume_spike', Date.UTC(2024, 2, 4, 15, i)));
      const w = await WindowWriter.open(out, { index: 0, count: 1 });
      for (const [i, id] of ids.entries()) await w.commit({ symbol: syms[i]!, eventId: id, trades: tradesFrame(fakeTrades(i + 1)), quotes: quotesFrame(fakeQuotes(i + 2)) });
      await w.close();
      const p = datasetPaths(out);
      expect(await compact(out, { symbols: new Set(['ABVC', 'BOXL']) })).toMatchObject({ parts: 2, windows: 3 });

      // Killed after BOXL's journal line, before its rename: its files back in staging.
      const boxl = partPaths(p, 'BOXL', 0);
      mkdirSync(join(boxl.staged.trades, '..'), { recursive: true });
      for (const k of ['trades', 'quotes'] as const) renameSync(boxl.final[k], boxl.staged[k]);
      // Killed before CYCN's line: a staged part no line names, and a tmp being written.
      const cycn = partPaths(p, 'CYCN', 0);
      mkdirSync(join(cycn.staged.trades, '..'), { recursive: true });
      copyFileSync(boxl.staged.trades, cycn.staged.trades);
      const tmp = `${cycn.staged.quotes}.tmp-0123456789ab`;
      copyFileSync(boxl.staged.quotes, tmp);

      // report: the same figures as status (datasetSummary), in a Dataset section.
      const summary = await datasetSummary(out);
      expect(summary).toMatchObject({ parts: 1, symbols: 2, windowsCompacted: 3, windowsPending: 1, partsUnpublished: 1, stagedUncommitted: 2 });
      const data = await buildReport(out);
      expect(data.dataset).toEqual(summary);
      const html = renderReportHtml(data);
      const section = html.slice(html.indexOf('<h2>Dataset</h2>'));
      expect(section).toContain('<td>1 over 2 symbols');
      expect(section).toContain('<td>1 committed windows (tickpipe compact)</td>');
      expect(section).toContain('1 committed part(s) not yet published, 2 uncommitted staged file(s)');

      // verify: each leftover once: the tmp as orphan-tmp, the staged part no line names as uncommitted.
      const v = await verifyRun(out);
      const { 'dataset-rows-mismatch': unpublishedRows, ...others } = v.problems;
      expect(unpublishedRows?.examples.every((e) => e.startsWith(ids[2]!))).toBe(true); // BOXL's rows, not in dataset/ until published
      expect(others).toEqual({
        'dataset-part-unpublished': { count: 1, examples: ['BOXL part 0'] },
        'dataset-uncommitted-part': { count: 1, examples: [join('state', 'compact', 'staging', 'symbol=CYCN', 'part-000000.trades.parquet')] },
        'orphan-tmp': { count: 1, examples: [join('state', 'compact', 'staging', 'symbol=CYCN', 'part-000000.quotes.parquet.tmp-0123456789ab')] },
      });

      // verify while a compaction runs (this process holds its lock): the staged files and the
      // committed part still being renamed are in flight, not problems; the published part is checked.
      const running = await acquireLock(p.lock, { command: 'test compaction' });
      try {
        const live = await verifyRun(out);
        expect(live.problems).toEqual({});
        expect(live.runningCompaction?.info?.pid).toBe(process.pid);
        const cli = await runCli(['verify', '--out', out]);
        expect(cli.code, cli.stdout + cli.stderr).toBe(0);
        expect(cli.stderr).toMatch(new RegExp(`^tickpipe verify: a compaction is running \\(.*compact\\.lock is held by pid ${process.pid} on .*\\(test compaction\\)\\): the files it has in flight were not checked; verify again when it ends$`, 'm'));
        // A published part that lost a file is still a problem while a compaction runs.
        const abvc = partPaths(p, 'ABVC', 0).final.trades;
        renameSync(abvc, `${abvc}.away`);
        try {
          expect((await verifyRun(out)).problems['dataset-part-missing']).toEqual({ count: 1, examples: ['ABVC part 0: trades'] });
        } finally {
          renameSync(`${abvc}.away`, abvc);
        }
      } finally {
        await running.release();
      }
      expect((await verifyRun(out)).runningCompaction).toBeUndefined();

      // reconcile: reports, changes nothing in the dataset.
      const rec = await reconcileRun(out);
      expect(rec.dataset).toEqual({
        published: 1,
        unpublished: ['BOXL part 0'],
        lost: [],
        uncommittedStaged: [join('state', 'compact', 'staging', 'symbol=CYCN', 'part-000000.quotes.parquet.tmp-0123456789ab'), join('state', 'compact', 'staging', 'symbol=CYCN', 'part-000000.trades.parquet')].sort(),
        compactedWindowsKept: 3,
      });
      expect(rec.ingest.dropped).toEqual([]);
      for (const f of [boxl.staged.trades, boxl.staged.quotes, cycn.staged.trades, tmp]) expect(existsSync(f), f).toBe(true);

      // clean: refused while a compaction holds the lock, then removes exactly the uncommitted files.
      const lock = await acquireLock(p.lock, { command: 'test compaction' });
      await expect(cleanRun(out)).rejects.toThrow(LockedError);
      await lock.release();
      const dry = await cleanRun(out, { dryRun: true });
      expect(dry.actions.map((a) => [a.kind, a.path]).sort()).toEqual(
        [
          ['delete-uncommitted-part', join('state', 'compact', 'staging', 'symbol=CYCN', 'part-000000.trades.parquet')],
          ['delete-tmp', join('state', 'compact', 'staging', 'symbol=CYCN', 'part-000000.quotes.parquet.tmp-0123456789ab')],
        ].sort(),
      );
      expect((await cleanRun(out)).actions).toHaveLength(2);
      expect(existsSync(cycn.staged.trades) || existsSync(tmp)).toBe(false);
      expect(existsSync(boxl.staged.trades) && existsSync(boxl.staged.quotes)).toBe(true);

      // The next compaction publishes BOXL and compacts CYCN; verify clean, nothing pending.
      expect(await compact(out)).toMatchObject({ rolledForward: 1, parts: 1, windows: 1, discarded: 0 });
      expect((await verifyRun(out)).problems).toEqual({});
      expect(await datasetSummary(out)).toMatchObject({ parts: 3, windowsPending: 0, partsUnpublished: 0, stagedUncommitted: 0 });
      expect(renderReportHtml(await buildReport(out))).toContain('none: every committed window is compacted');
    } finally {
      await cleanup();
    }
  }, 120_000);
});
