import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalEventId, parsePythonTimestamp } from '../../src/streams/event-id.js';
import { manifestRowCount, openManifest, readManifest, readManifestBatches } from '../../src/streams/manifest.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-manifest-batches-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

describe('CSV manifest: batches, fast timestamp path, raw row count', () => {
  it('the fast path for common ISO shapes gives the same IDs (and the same errors) as the general parser', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            y: fc.integer({ min: 1990, max: 2099 }),
            mo: fc.integer({ min: 1, max: 12 }),
            d: fc.integer({ min: 1, max: 31 }), // 31 Feb etc. must be refused as the general parser does
            h: fc.integer({ min: 0, max: 24 }),
            mi: fc.integer({ min: 0, max: 60 }),
            s: fc.integer({ min: 0, max: 59 }),
            sep: fc.constantFrom('T', ' '),
            off: fc.constantFrom('', 'Z', '+00:00', '-04:00', '+05:30', '-23:59', '+24:00', '+03:75'),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        async (rows) => {
          const cells = rows.map((r) => `${r.y}-${pad(r.mo)}-${pad(r.d)}${r.sep}${pad(r.h)}:${pad(r.mi)}:${pad(r.s)}${r.off}`);
          const p = join(dir, `fast-${k++}.csv`);
          await writeFile(p, `symbol,event_type,timestamp\n${cells.map((c) => `ABCD,flush,${c}`).join('\n')}\n`);
          const firstBad = cells.findIndex((c) => {
            try {
              parsePythonTimestamp(c);
              return false;
            } catch {
              return true;
            }
          });
          const got = readManifest(p);
          const ids: string[] = [];
          let err: unknown;
          try {
            for await (const e of got) ids.push(e.eventId);
          } catch (e) {
            err = e;
          }
          if (firstBad < 0) {
            expect(err).toBeUndefined();
            expect(ids).toEqual(cells.map((c) => canonicalEventId('ABCD', 'flush', c)));
          } else {
            expect(ids).toHaveLength(0); // the batch holding the bad row is never handed out
            expect((err as Error).message).toContain(`${p}:${firstBad + 2}:`);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('batches hold the same rows as readManifest, and the raw count respects quotes, blank lines and CRLF', async () => {
    const p = join(dir, 'mixed.csv');
    const body =
      '\uFEFFsymbol,event_type,timestamp,note\r\n' +
      'ABCD,flush,2024-03-11 15:00:00,plain\r\n' +
      '\r\n' +
      'ABCD,"flush",2024-03-11T11:00:01-04:00,"two\nlines, and a ""quote"""\n' +
      '   \n' +
      'WXYZ,vwap_break,1710169200000,x\n' +
      'WXYZ,vwap_break,2024-03-12T15:30:00Z,"last"';
    await writeFile(p, body);
    const flat = [];
    for await (const e of readManifest(p)) flat.push(e);
    const batched = [];
    for await (const b of readManifestBatches(p, { batchRows: 2 })) for (let i = 0; i < b.length; i++) batched.push(b.event(i));
    expect(batched).toEqual(flat);
    expect(flat.map((e) => e.index)).toEqual([0, 1, 2, 3]);
    expect(await manifestRowCount(await openManifest(p))).toBe(4);
  });
});
