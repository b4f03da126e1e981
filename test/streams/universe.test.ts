import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { readUniverse, universeIndex } from '../../src/streams/universe.js';
import { validateSymbol } from '../../src/streams/symbols.js';

const dir = mkdtempSync(join(tmpdir(), 'tickpipe-universe-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('validateSymbol', () => {
  it.each(['AAPL', 'BRK.B', 'BF-B', 'A', 'AGNCpM', 'ABCDEFGHIJ', 'X1'])('accepts %s unchanged', (s) => {
    expect(validateSymbol(s)).toBe(s);
  });
  it.each([
    ['../x', /"\/"/],
    ['A B', /whitespace/],
    ['A'.repeat(40), /longer than 10/],
    ['', /empty/],
    ['A\0B', /NUL/],
    ['A/B', /"\/"/],
    ['A\\B', /"\\\\"/],
    ['aapl', /did you mean AAPL/],
    ['1AB', /start with a letter/],
    ['.A', /start with a letter/],
    ['A..B', /'\.\.'/],
  ])('rejects %j', (s, why) => {
    expect(() => validateSymbol(s)).toThrow(InputError);
    expect(() => validateSymbol(s)).toThrow(why);
  });
  it('names non-string values and their type', () => {
    expect(() => validateSymbol(null)).toThrow(/null/);
    expect(() => validateSymbol(42)).toThrow(/42 \(number\)/);
  });
});

describe('readUniverse', () => {
  it('reads txt with comments, blanks, CRLF; sorts by byte order and reports duplicates', async () => {
    const p = file('u.txt', '# header\r\nMSFT\r\n\r\nAAPL  # trailing comment\nBRK.B\naapl2#x\n  MSFT\nBF-B\nAAPL\n');
    await expect(readUniverse(p)).rejects.toThrow(/u\.txt:6: .*did you mean AAPL2/);
    const q = file('u2.txt', '# header\r\nMSFT\r\n\r\nAAPL  # trailing comment\nBRK.B\n  MSFT\nBF-B\nAAPL\nAGNCp\n');
    const u = await readUniverse(q);
    expect(u.symbols).toEqual(['AAPL', 'AGNCp', 'BF-B', 'BRK.B', 'MSFT']);
    expect(u.duplicates).toEqual(['AAPL', 'MSFT']);
    expect(u.format).toBe('txt');
  });
  it('reads csv with a case-insensitive ticker column and quoted fields', async () => {
    const p = file('u.csv', 'Name,"Ticker",x\r\n"Apple, Inc.",AAPL,1\n"Multi\nline",MSFT,2\n\nBerkshire,"BRK.B",3\n');
    const u = await readUniverse(p);
    expect(u.symbols).toEqual(['AAPL', 'BRK.B', 'MSFT']);
  });
  it('csv errors name the file, line and reason; missing column lists the columns', async () => {
    const p = file('bad.csv', 'symbol,x\nAAPL,1\n"q\nq",2\n../x,3\n');
    await expect(readUniverse(p)).rejects.toThrow(/bad\.csv:3: invalid symbol "q\\nq"/);
    const p2 = file('bad2.csv', 'symbol,x\nAAPL,1\n../x,3\n');
    await expect(readUniverse(p2)).rejects.toThrow(/bad2\.csv:3: invalid symbol "\.\.\/x"/);
    const p3 = file('nocol.csv', 'name,price\nA,1\n');
    await expect(readUniverse(p3)).rejects.toThrow(/columns found: "name", "price"/);
  });
  it('reads parquet symbol/ticker columns and reports bad rows by row number', async () => {
    const p = join(dir, 'u.parquet');
    pl.DataFrame({ ticker: ['MSFT', 'AAPL', 'MSFT'], n: [1, 2, 3] }).writeParquet(p);
    expect((await readUniverse(p)).symbols).toEqual(['AAPL', 'MSFT']);
    const bad = join(dir, 'bad.parquet');
    pl.DataFrame({ symbol: ['MSFT', 'A B'] }).writeParquet(bad);
    await expect(readUniverse(bad)).rejects.toThrow(/bad\.parquet:row 2: invalid symbol "A B"/);
    const nocol = join(dir, 'nocol.parquet');
    pl.DataFrame({ sym: ['MSFT'] }).writeParquet(nocol);
    await expect(readUniverse(nocol)).rejects.toThrow(/columns found: "sym"/);
    const num = join(dir, 'num.parquet');
    pl.DataFrame({ symbol: [1, 2] }).writeParquet(num);
    await expect(readUniverse(num)).rejects.toThrow(/must hold strings/);
  });
  it('missing file, empty universe and unknown extension are InputErrors', async () => {
    await expect(readUniverse(join(dir, 'nope.txt'))).rejects.toThrow(`universe file not found: ${join(dir, 'nope.txt')}`);
    await expect(readUniverse(file('empty.txt', '# nothing\n\n'))).rejects.toThrow(/no symbols/);
    await expect(readUniverse(file('u.json', '[]'))).rejects.toThrow(InputError);
  });
  it('universeIndex maps symbols to positions and refuses duplicates', () => {
    expect([...universeIndex(['A', 'B'])]).toEqual([['A', 0], ['B', 1]]);
    expect(() => universeIndex(['A', 'A'])).toThrow(RangeError);
  });
});
