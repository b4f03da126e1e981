/**
 * `mkdir -p` that always ends. Node's `mkdir(path, { recursive: true })` (20.20, sync and async)
 * spins forever at 100% of a core where mkdir(2) answers ENOENT although the parent exists: procfs
 * does (`--out /proc/run1` hung `run` before it printed anything). Here the missing folders are
 * found by walking up with stat (at most one step per path component), then created top-down one
 * at a time, so every errno reaches the caller once.
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

/** The folders of `path`, deepest first, that do not exist yet (empty: `path` itself exists). */
function missingFolders(path: string, exists: (p: string) => boolean): string[] {
  const missing: string[] = [];
  for (let p = resolve(path); ; ) {
    if (exists(p)) break;
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  return missing;
}

/** Whether something is at `p` (ENOENT: no; any other error is thrown: EACCES, ENOTDIR…). */
function existsWith(statFn: (p: string) => unknown): (p: string) => boolean {
  return (p) => {
    try {
      statFn(p);
      return true;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
  };
}

/** Creates `path` and its missing parents. A file where a folder belongs fails as mkdir(2) does (EEXIST, ENOTDIR). */
export async function makeDirs(path: string): Promise<void> {
  const missing: string[] = [];
  for (let p = resolve(path); ; ) {
    try {
      await stat(p);
      break;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  if (missing.length === 0) {
    if (!(await stat(path)).isDirectory()) await mkdir(path); // EEXIST, from the OS
    return;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      await mkdir(missing[i]!);
    } catch (err) {
      // Another process made it meanwhile: fine if it is a folder.
      if (errnoCode(err) !== 'EEXIST' || !(await stat(missing[i]!)).isDirectory()) throw err;
    }
  }
}

/** {@link makeDirs}, synchronously (for the log files opened before the loop runs anything). */
export function makeDirsSync(path: string): void {
  const missing = missingFolders(path, existsWith(statSync));
  if (missing.length === 0) {
    if (!statSync(path).isDirectory()) mkdirSync(path);
    return;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]!);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST' || !statSync(missing[i]!).isDirectory()) throw err;
    }
  }
}
