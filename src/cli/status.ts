import { formatDatasetSummary } from '../dataset/format.js';
import type { StatusReport } from '../ops/status.js';
import { formatHostRow } from '../ops/hosts-view.js';
import { commandHelp, defineCommand, JSON_FLAG, OUT_FLAG, OUT_OPTION, outDir } from './command.js';
import { bar, formatDuration } from './progress-view.js';

const HELP = commandHelp(
  `Usage: tickpipe status [--out DIR] [--json]

One-shot summary of a run folder (safe while a run is active): stages present, symbols and
windows done of total, failures by code and reason, last activity, and who holds the locks.`,
  14,
  [
    OUT_OPTION,
    ['--json', 'print one JSON object instead of text'],
  ],
);

export const statusCommand = defineCommand({
  name: 'status',
  help: HELP,
  flags: { ...OUT_FLAG, ...JSON_FLAG },
  async run(values, io) {
    const { runStatus } = await import('../ops/status.js');
    const s = await runStatus(outDir(values));
    io.stdout.write((values.json ? JSON.stringify(s) : formatStatus(s)) + '\n');
    return 0;
  },
});

/** The text form of a status report. */
export function formatStatus(s: StatusReport): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const rows: Array<[string, string]> = [
    // No dates: an ingest-only run over a given --manifest (run.json records dates only for detect).
    ['run', `${s.run.from === null && s.run.to === null ? 'events of a given --manifest' : `${s.run.from ?? '?'} .. ${s.run.to ?? '?'}`} from ${s.run.source}`],
    ['stages', s.stages.length ? s.stages.join(', ') : 'none yet'],
  ];
  if (s.detect) {
    const total = s.detect.symbolsTotal;
    rows.push(['detect', `${total !== null ? `${bar(s.detect.symbolsDone, total)} ` : ''}${fmt(s.detect.symbolsDone)}/${total === null ? '?' : fmt(total)} symbols, ${fmt(s.detect.shards)} shards, ${fmt(s.detect.eventRows)} event rows`]);
  }
  if (s.manifest) rows.push(['manifest', `${s.manifest.events === null ? 'unreadable' : `${fmt(s.manifest.events)} events`} (${s.manifest.path})`]);
  if (s.ingest) {
    const i = s.ingest;
    rows.push(['ingest', `${i.windowsTotal !== null ? `${bar(i.windowsDone, i.windowsTotal)} ` : ''}${fmt(i.windowsDone)}/${i.windowsTotal === null ? '?' : fmt(i.windowsTotal)} windows, ${fmt(i.failed)} failed, trades ${fmt(i.tradeRows)}, quotes ${fmt(i.quoteRows)}`]);
    if (i.failed > 0) {
      rows.push(['failures', Object.entries(i.failuresByCode).map(([c, n]) => `${c} ${fmt(n)}`).join(', ')]);
      for (const r of i.failuresByReason.slice(0, 3)) rows.push(['', `${fmt(r.count)} x ${r.reason.slice(0, 100)}`]);
    }
  }
  if (s.ingest || s.dataset) rows.push(['dataset', formatDatasetSummary(s.dataset)]);
  const a = s.lastActivity;
  const p = a.progress;
  if (p && s.live) {
    const unit = p.stage === 'detect' ? 'symbols' : 'windows';
    const state = p.paused ? `PAUSED since ${p.pausedSince ?? '?'}` : `ETA ${p.etaSec === null ? '?' : formatDuration(p.etaSec * 1000)}`;
    rows.push(['progress', `${p.stage}: ${p.itemsPerSec === null ? '-' : p.itemsPerSec} ${unit}/s, ${state}; requests ${p.reqPerSec ?? '-'}/s at --rate ${p.configuredRate}/s, 429s ${p.rateLimited}${p.throttled ? ' (keep coming: try --adaptive or a lower --rate)' : ''}`]);
  }
  rows.push(['last activity', a.at === null ? 'none' : `${a.at} (${formatDuration((a.agoSec ?? 0) * 1000)} ago)`]);
  if (s.locks.length === 0) rows.push(['locks', 'none']);
  for (const l of s.locks) {
    const name = l.stage === 'compact' ? 'compact' : `${l.stage === 'detect' ? 'worker' : 'part'}-${l.index}`;
    rows.push([l === s.locks[0] ? 'locks' : '', `${name}: ${l.state}${l.pid !== null ? ` pid ${l.pid} on ${l.host} since ${l.since}` : ''}${l.command ? ` (${l.command})` : ''}`]);
  }
  rows.push(['running', s.live ? 'yes: a live process holds a lock' : 'no']);
  for (const h of s.hosts) rows.push([h === s.hosts[0] ? 'hosts' : '', formatHostRow(h)]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return [`tickpipe status of ${s.outDir}`, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}
