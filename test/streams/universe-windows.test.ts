import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readUniverse } from '../../src/streams/universe.js';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'tp-universe-win-'))));
afterAll(() => rm(dir, { recursive: true, force: true }));

const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);

describe('universe files from PowerShell and Excel', () => {
  it('UTF-16LE with BOM (PowerShell 5.1: Get-Content x | Out-File symbols.txt, or >)', async () => {
    const p = join(dir, 'ps.txt');
    await writeFile(p, utf16le('AAOI\r\nBOXL\r\n# comment\r\nABVC\r\n'));
    expect((await readUniverse(p)).symbols).toEqual(['AAOI', 'ABVC', 'BOXL']);
  });

  it('a UTF-16LE CSV with BOM', async () => {
    const p = join(dir, 'ps.csv');
    await writeFile(p, utf16le('"Symbol","Name"\r\n"AAOI","Applied Opto"\r\n"BOXL","Boxlight"\r\n'));
    expect((await readUniverse(p)).symbols).toEqual(['AAOI', 'BOXL']);
  });

  it(';-separated CSV (European Excel), with a decimal comma in another column', async () => {
    const p = join(dir, 'excel.csv');
    await writeFile(p, '\uFEFFTicker;Price\r\nAAOI;12,5\r\nBOXL;"1,25"\r\n');
    expect((await readUniverse(p)).symbols).toEqual(['AAOI', 'BOXL']);
  });
});
