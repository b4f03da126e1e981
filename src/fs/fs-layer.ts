/**
 * A small injectable filesystem layer: exactly the operations the sinks use, so tests can inject
 * faults (ENOSPC, EACCES, EPERM on rename…) and simulated crashes at any step.
 *
 * Production code uses {@link nodeFs}. Tests wrap it with {@link instrumentFs}, whose hook sees every
 * operation (numbered from 0) before it runs and may throw: an errno-style error to simulate a
 * fault, or a {@link SimulatedCrash} to simulate the process dying there. After a crash the layer
 * is "dead": every later call throws the same crash, so nothing after the crash point touches the
 * disk (no cleanup, no journal line), leaving the disk exactly as a real crash would.
 *
 * @example
 * ```ts
 * import { nodeFs, instrumentFs, SimulatedCrash } from 'tickpipe/sinks';
 * const fs = instrumentFs(nodeFs, ({ step, op }) => {
 *   if (op === 'rename') throw new SimulatedCrash(step, op);
 * });
 * await publishBytes('/tmp/out/a.txt', 'hello', { fs }); // rejects with SimulatedCrash
 * ```
 */
import * as fsp from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { errnoCode, toDiskError } from '../errors.js';
import { makeDirs } from './make-dirs.js';

/** An open file. Writes are complete (looped until every byte is written) or throw. */
export interface FsFileHandle {
  /** Writes all of `data` at the current position (append mode: at the end). */
  write(data: Uint8Array | string): Promise<void>;
  /** fsync(2): data and metadata are durable when this resolves. */
  sync(): Promise<void>;
  /** Truncates the file to `length` bytes. */
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/** Minimal stat result. */
export interface FsStat {
  readonly size: number;
  readonly mtimeMs: number;
  isFile(): boolean;
  isDirectory(): boolean;
}

/**
 * Open flags the sinks use: `'r'` read, `'a'` append (create), `'wx'` create exclusively (fails
 * with EEXIST), `'w'` create or truncate, `'r+'` read/write existing.
 */
export type OpenFlags = 'r' | 'a' | 'wx' | 'w' | 'r+';

/** The filesystem operations used by the sinks. All paths are absolute or cwd-relative. */
export interface FsLayer {
  mkdir(path: string): Promise<void>;
  open(path: string, flags: OpenFlags): Promise<FsFileHandle>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  /** Hard link (atomic create-if-absent; fails with EEXIST). */
  link(existing: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  stat(path: string): Promise<FsStat>;
  /** fsync of a directory, so a rename/create/unlink in it is durable. No-op where unsupported. */
  fsyncDir(path: string): Promise<void>;
}

function wrapHandle(h: fsp.FileHandle): FsFileHandle {
  return {
    async write(data) {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < buf.byteLength) {
        const { bytesWritten } = await h.write(buf, off, buf.byteLength - off);
        if (bytesWritten <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
        off += bytesWritten;
      }
    },
    sync: () => h.sync(),
    truncate: (length) => h.truncate(length),
    close: () => h.close(),
  };
}

const OPEN_FLAGS: Record<OpenFlags, number | string> = {
  r: 'r',
  a: 'a',
  wx: 'wx',
  w: 'w',
  'r+': 'r+',
};

/** The real filesystem (node:fs/promises). */
export const nodeFs: FsLayer = {
  mkdir: (path) => makeDirs(path),
  async open(path, flags) {
    return wrapHandle(await fsp.open(path, OPEN_FLAGS[flags], 0o644));
  },
  readFile: (path) => fsp.readFile(path),
  rename: (from, to) => fsp.rename(from, to),
  link: (existing, newPath) => fsp.link(existing, newPath),
  unlink: (path) => fsp.unlink(path),
  readdir: (path) => fsp.readdir(path),
  stat: (path) => fsp.stat(path),
  async fsyncDir(path) {
    let h: fsp.FileHandle | undefined;
    try {
      h = await fsp.open(path, fsConstants.O_RDONLY);
      await h.sync();
    } catch (err) {
      // Windows cannot open/fsync directories (EPERM/EISDIR/EINVAL): the rename is as durable as
      // that platform allows. Everything else is a real failure.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EACCES') throw err;
    } finally {
      await h?.close().catch(() => undefined);
    }
  },
};

/** Thrown by an instrumented layer to simulate the process dying at a given step. */
export class SimulatedCrash extends Error {
  readonly step: number;
  readonly op: string;
  constructor(step: number, op: string) {
    super(`simulated crash at step ${step} (${op})`);
    this.name = 'SimulatedCrash';
    this.step = step;
    this.op = op;
  }
}

/** Names of the operations a hook can see. File-handle operations are `handle.*`. */
export type FsOp =
  | 'mkdir'
  | 'open'
  | 'readFile'
  | 'rename'
  | 'link'
  | 'unlink'
  | 'readdir'
  | 'stat'
  | 'fsyncDir'
  | 'handle.write'
  | 'handle.sync'
  | 'handle.truncate'
  | 'handle.close';

/** What the hook of {@link instrumentFs} sees before each operation runs. */
export interface FsCall {
  /** 0-based count of operations through this layer. */
  readonly step: number;
  readonly op: FsOp;
  /** Path the operation acts on (for handle ops: the path the file was opened with). */
  readonly path: string;
  /** Second path (rename/link target). */
  readonly path2?: string;
  /** Flags for `open`. */
  readonly flags?: OpenFlags;
  /** Bytes for `handle.write`. */
  readonly data?: Uint8Array | string;
}

/**
 * What a hook may return for `handle.write`: `{ partial: k }` writes only the first k bytes and
 * then crashes (a torn write).
 */
export type FsHookResult = void | { readonly partial: number };

/** An instrumented layer: the wrapped operations plus counters for assertions. */
export interface InstrumentedFs extends FsLayer {
  /** Operations seen so far (the next step number). */
  readonly steps: number;
  /** Count per operation name. */
  readonly counts: Readonly<Record<string, number>>;
  /** The crash that killed this layer, if any. */
  readonly crashed: SimulatedCrash | undefined;
}

/** The crash-injection state shared by an instrumented layer and its file handles. */
class FsInstrument {
  step = 0;
  crashed: SimulatedCrash | undefined;
  readonly counts: Record<string, number> = {};

  constructor(private readonly hook: (call: FsCall) => FsHookResult) {}

  /** Counts the call and asks the hook; once a simulated crash happened, every call fails with it. */
  before(call: Omit<FsCall, 'step'>): FsHookResult {
    if (this.crashed) throw this.crashed;
    const s = this.step++;
    this.counts[call.op] = (this.counts[call.op] ?? 0) + 1;
    try {
      return this.hook({ ...call, step: s });
    } catch (err) {
      if (err instanceof SimulatedCrash) this.crashed = err;
      throw err;
    }
  }

  afterCheck(): void {
    if (this.crashed) throw this.crashed;
  }

  /** A torn write: part of `data` reaches the file, then the process "dies". */
  async tornWrite(h: FsFileHandle, data: string | Uint8Array, partial: number): Promise<never> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    await h.write(buf.subarray(0, Math.max(0, Math.min(partial, buf.byteLength))));
    this.crashed = new SimulatedCrash(this.step - 1, 'handle.write (torn)');
    throw this.crashed;
  }
}

function instrumentHandle(ins: FsInstrument, h: FsFileHandle, path: string): FsFileHandle {
  return {
    async write(data) {
      const r = ins.before({ op: 'handle.write', path, data });
      if (r && typeof r === 'object' && 'partial' in r) await ins.tornWrite(h, data, r.partial);
      await h.write(data);
    },
    async sync() {
      ins.before({ op: 'handle.sync', path });
      await h.sync();
    },
    async truncate(length) {
      ins.before({ op: 'handle.truncate', path });
      await h.truncate(length);
    },
    async close() {
      try {
        ins.before({ op: 'handle.close', path });
      } catch (err) {
        // A dead process's descriptors are closed by the kernel (and a failed close(2) releases the
        // descriptor too): release it, then report the crash or fault.
        await h.close().catch(() => undefined);
        throw err;
      }
      await h.close();
    },
  };
}

/**
 * Wraps a layer so `hook` sees every operation before it runs. A hook throwing a
 * {@link SimulatedCrash} kills the layer (every later call throws that crash); any other error is
 * thrown from that single call only (a fault).
 *
 * @example
 * ```ts
 * // ENOSPC on the first write
 * const fs = instrumentFs(nodeFs, ({ op }) => {
 *   if (op === 'handle.write') throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
 * });
 * ```
 */
export function instrumentFs(base: FsLayer, hook: (call: FsCall) => FsHookResult): InstrumentedFs {
  const ins = new FsInstrument(hook);
  return {
    get steps() {
      return ins.step;
    },
    get counts() {
      return ins.counts;
    },
    get crashed() {
      return ins.crashed;
    },
    async mkdir(path) {
      ins.before({ op: 'mkdir', path });
      await base.mkdir(path);
    },
    async open(path, flags) {
      ins.before({ op: 'open', path, flags });
      return instrumentHandle(ins, await base.open(path, flags), path);
    },
    async readFile(path) {
      ins.before({ op: 'readFile', path });
      const b = await base.readFile(path);
      ins.afterCheck();
      return b;
    },
    async rename(from, to) {
      ins.before({ op: 'rename', path: from, path2: to });
      await base.rename(from, to);
    },
    async link(existing, newPath) {
      ins.before({ op: 'link', path: existing, path2: newPath });
      await base.link(existing, newPath);
    },
    unlink: onePathOp(ins, base, 'unlink'),
    readdir: onePathOp(ins, base, 'readdir'),
    stat: onePathOp(ins, base, 'stat'),
    fsyncDir: onePathOp(ins, base, 'fsyncDir'),
  };
}

/** The operations that take one path and nothing else. */
type OnePathOp = 'unlink' | 'readdir' | 'stat' | 'fsyncDir';

/** `base[op]` seen by the instrument first: the hook runs, then the operation. */
function onePathOp<K extends OnePathOp>(ins: FsInstrument, base: FsLayer, op: K): FsLayer[K] {
  const call = base[op] as (path: string) => ReturnType<FsLayer[K]>;
  return (async (path: string) => {
    ins.before({ op, path });
    return call.call(base, path);
  }) as FsLayer[K];
}

export { errnoCode };

/** True when `err` is a system error with code ENOENT. */
export function isNotFound(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}

/** The names in `dir` (unsorted), or [] when it does not exist. @throws DiskError naming the folder otherwise. */
export async function namesOrNone(fs: FsLayer, dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return [];
    throw toDiskError(err, 'listing', dir);
  }
}
