/** What the integration tests read of a live run folder: one-host journals and heartbeat lines. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Complete lines of a JSON-lines file (a torn last line is left out), parsed; [] when it does not exist yet. */
function jsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as T);
}

/** Events journaled by ingest partition 0, in order. */
export const journaled = (out: string): string[] => jsonLines<{ event: string }>(join(out, 'state', 'ingest', 'part-0.jsonl')).map((l) => l.event);

/** The heartbeat lines written so far. */
export const heartbeats = (out: string): Array<Record<string, unknown>> => jsonLines(join(out, 'logs', 'heartbeat.ndjson'));
