/**
 * `mkdir -p` that always ends. Node's `mkdir(path, { recursive: true })` (20.20, sync and async)
 * spins forever at 100% of a core where mkdir(2) answers ENOENT although the parent exists: procfs
 * does (`--out /proc/run1` hung `run` before it printed anything). The algorithm is Node's, with
 * the loop cut: mkdir the folder (one syscall when its parent exists: every window folder); on
 * ENOENT make the parent, then try the folder once more, and a second ENOENT is the answer.
 *
 * @example
 * ```ts
 * await makeDirs('/data/run1/state/ingest'); // creates what is missing; an existing folder is fine
 * await makeDirs('/proc/run1');              // rejects with ENOENT instead of spinning
 * ```
 */
import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { errnoCode } from '../errors.js';

/** Creates `path` and its missing parents. A file where a folder belongs fails as mkdir(2) does (EEXIST, ENOTDIR). */
export async function makeDirs(path: string): Promise<void> {
  const dir = resolve(path);
  try {
    await mkdir(dir);
    return;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST' && (await stat(dir)).isDirectory()) return; // there already, or made meanwhile
    const parent = dirname(dir);
    if (errnoCode(err) !== 'ENOENT' || parent === dir) throw err;
    await makeDirs(parent);
  }
  try {
    await mkdir(dir);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST' || !(await stat(dir)).isDirectory()) throw err;
  }
}

/** {@link makeDirs}, synchronously (for the log files opened before the loop runs anything). */
export function makeDirsSync(path: string): void {
  const dir = resolve(path);
  try {
    mkdirSync(dir);
    return;
  } catch (err) {
    if (errnoCode(err) === 'EEXIST' && statSync(dir).isDirectory()) return;
    const parent = dirname(dir);
    if (errnoCode(err) !== 'ENOENT' || parent === dir) throw err;
    makeDirsSync(parent);
  }
  try {
    mkdirSync(dir);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST' || !statSync(dir).isDirectory()) throw err;
  }
}
