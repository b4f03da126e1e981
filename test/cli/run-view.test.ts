import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { fitLine, ProgressView } from '../../src/cli/progress-view.js';
import { formatSummary } from '../../src/ops/run-summary.js';
import { renderIngest } from '../../src/cli/run-view.js';
import type { RunSummary } from '../../src/ops/summary.js';
import { initialProgress, reduceProgress, type ProgressEvent } from '../../src/progress/index.js';

/** Just enough of a VT100 to see what a user sees: text, \r, \n, ESC[nA (up), ESC[J (clear below). */
class Screen {
  lines: string[] = [''];
  row = 0;
  col = 0;
  write(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\x1b') {
        const m = /^\x1b\[(\d*)([AJ])/.exec(s.slice(i))!;
        if (m[2] === 'A') this.row = Math.max(0, this.row - Number(m[1] || 1));
        else {
          this.lines[this.row] = this.lines[this.row]!.slice(0, this.col);
          this.lines.length = this.row + 1;
        }
        i += m[0].length - 1;
      } else if (c === '\r') this.col = 0;
      else if (c === '\n') {
        this.row++;
        this.col = 0;
        if (this.lines.length <= this.row) this.lines.push('');
      } else {
        const l = this.lines[this.row]!.padEnd(this.col);
        this.lines[this.row] = l.slice(0, this.col) + c + l.slice(this.col + 1);
        this.col++;
      }
    }
  }
  text(): string[] {
    return this.lines.filter((l) => l !== '');
  }
}

function ttyView(screen: Screen, columns = 200): ProgressView {
  const stream = new PassThrough() as unknown as NodeJS.WriteStream;
  stream.write = ((chunk: string) => (screen.write(String(chunk)), true)) as NodeJS.WriteStream['write'];
  (stream as { columns: number }).columns = columns;
  return new ProgressView({ stream, tty: true, redrawMs: 0 });
}

describe('run view on a terminal', () => {
  it('Ctrl-C: the "^C" echo does not leave a fragment of the view in front of the stop line', () => {
    const screen = new Screen();
    const view = ttyView(screen);
    view.update(() => ['ingest [###] 10/20 windows', '  requests 9.0/s']);
    screen.write('^C'); // what the terminal echoes at the cursor when the user presses Ctrl-C
    view.line('tickpipe: SIGINT received: finishing the items in flight');
    expect(screen.text()[0]).toBe('tickpipe: SIGINT received: finishing the items in flight');
    expect(screen.text().join('\n')).not.toMatch(/^in|\^C/m);
  });

  it('a line wider than the terminal is cut at a field boundary with …, never mid-figure, and redraws in place', () => {
    const screen = new Screen();
    const view = ttyView(screen, 60);
    const long = 'detect [####################] 25/25 symbols committed, 25 detected, 0 failed, rss 312 MB';
    view.update(() => [long, '  requests 5.7/s']);
    view.update(() => [long, '  requests 6.0/s']);
    expect(screen.text()).toEqual(['detect [####################] 25/25 symbols committed, …', '  requests 6.0/s']);
    expect(fitLine('a, b, 12345', 8)).toBe('a, b, …');
    expect(fitLine('abcdefghij', 6)).toBe('abcd…');
    expect(fitLine('fits', 4)).toBe('fits');
  });

  it('while paused: PAUSED since, no ETA, the configured rate (not "quota"), and 429s', () => {
    const T0 = Date.UTC(2026, 0, 5, 14, 0, 0);
    let s = initialProgress({ stage: 'ingest', at: T0, total: 100, done: 0, configuredRate: 100 });
    const ev: ProgressEvent[] = [
      { kind: 'item', at: T0 + 500, part: '0', ok: true, last: 'E1' },
      { kind: 'tick', at: T0 + 1000, requests: 12, ok: 10, rateLimited: 2, rate: 100 },
      { kind: 'pause', at: T0 + 2000, paused: true },
      { kind: 'tick', at: T0 + 65_000, requests: 12, ok: 10, rateLimited: 2, rate: 100 },
    ];
    for (const e of ev) s = reduceProgress(s, e);
    const lines = renderIngest(s, { rate: 50, quota: undefined, adaptive: false, out: '/data/run', trades: 0, quotes: 0, bytes: 0, metrics: { latencyP50Ms: 10, latencyP95Ms: 20 } as never });
    const text = lines.join('\n');
    expect(text).toMatch(/ETA paused/);
    expect(text).toMatch(/PAUSED since \d\d:\d\d:\d\d \(1m03s\): nothing new starts; delete .*PAUSE to resume/);
    expect(text).toMatch(/at --rate 50\/s/);
    expect(text).toMatch(/429s 2 /);
    expect(text).not.toMatch(/quota/);
  });
});

describe('run summary', () => {
  const summary: RunSummary = {
    symbols: 25, symbolsDone: 25, events: 100, eventsByType: { flush: 100 }, windows: 40, windowsFailed: 0, tradeRows: 1, quoteRows: 1,
    duplicates: 0, wallMs: 60_000, requests: 400, rateLimited: 40, rateLimitedShare: 0.1, requestsPerSec: 45, quota: 100, quotaShare: 0.45,
  };

  it('after a stop: says stopped, what is left, that running again resumes, where the output is and what to run next', () => {
    const text = formatSummary(summary, { out: '/data/my run', rate: 100, quota: undefined, adaptive: false, stop: { signal: 'SIGINT', stage: 'ingest' }, partitioned: false });
    expect(text).toMatch(/STOPPED/);
    expect(text).toMatch(/Stopped by SIGINT during ingest: 60 of 100 windows not yet downloaded/);
    expect(text).toMatch(/run the same command again to resume/);
    expect(text).toMatch(/Output: \/data\/my run/);
    expect(text, 'no dataset/ yet: not named').not.toMatch(/dataset\//);
    const compacted = formatSummary(summary, { out: '/data/my run', rate: 100, quota: undefined, adaptive: false, stop: undefined, partitioned: false, dataset: true });
    expect(compacted).toMatch(/Output: \/data\/my run \(events\/events\.parquet, windows\/symbol=…\/event=…\/, dataset\/\{trades,quotes\}\/symbol=…\/ to query\)/);
    expect(text).toMatch(/tickpipe tail --out "\/data\/my run".*tickpipe report --out .*tickpipe verify --out/);
    // A real API: the share is of the configured rate; the quota is not known and not claimed.
    expect(text).toMatch(/share of --rate\s+45\.0% of 100 req\/s/);
    expect(text).not.toMatch(/share of quota/);
    expect(text).toMatch(/429 to 10\.0% of requests: its limit is below --rate 100\/s; pass --adaptive or a lower --rate/);
  });

  it('a few 429s while sending well below --rate are not blamed on a limit below --rate', () => {
    const few = { ...summary, rateLimited: 8, rateLimitedShare: 0.02, requestsPerSec: 15.2 };
    const text = formatSummary(few, { out: 'd', rate: 40, quota: undefined, adaptive: false, stop: undefined, partitioned: false });
    expect(text).toMatch(/429 to 2\.0% of requests \(each retried\) while the run averaged 15\.2 of --rate 40\/s: it counted short bursts at the rate more strictly than they were paced; --adaptive lowers the rate when that happens\./);
    expect(text).not.toMatch(/its limit is below/);
    // The same share while sending at the rate: the limit is below it.
    const atRate = formatSummary({ ...few, requestsPerSec: 39 }, { out: 'd', rate: 40, quota: undefined, adaptive: false, stop: undefined, partitioned: false });
    expect(atRate).toMatch(/429 to 2\.0% of requests: its limit is below --rate 40\/s; pass --adaptive or a lower --rate/);
  });

  it('a resume with a few requests left shows no share of the rate (3 requests are not a rate)', () => {
    const resumed = { ...summary, requests: 3, rateLimited: 0, rateLimitedShare: 0, requestsPerSec: 8.1 };
    const text = formatSummary(resumed, { out: 'd', rate: 50, quota: 100, adaptive: false, stop: undefined, partitioned: false });
    expect(text).toMatch(/share of --rate\s+- \(3 requests: too few to measure against 50 req\/s\)/);
    expect(text).not.toMatch(/share of quota/);
    expect(text).toMatch(/requests\/s\s+8\.1 while not paused \(3 requests/);
  });

  it('on the simulator the quota is known and shown as such', () => {
    const text = formatSummary({ ...summary, rateLimited: 0, rateLimitedShare: 0 }, { out: 'd', rate: 100, quota: 100, adaptive: false, stop: undefined, partitioned: false });
    expect(text).toMatch(/share of quota used\s+45\.0% of the simulator's 100 req\/s/);
    expect(text).not.toMatch(/Stopped/);
  });
});
