#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
import { main } from '../dist/cli/main.js';

// WebAssembly stays on V8's baseline compiler (Liftoff) in the CLI's process: the only wasm is
// undici's llhttp HTTP parser, and after ~20 responses V8 re-compiled it with TurboFan on a
// background thread, a 13–44 MB transient (a ~29 MB compiler zone) that landed on a restart's
// peak RSS (issue 17: full skip passes 136–159 MB → 126–135 MB). What it costs: client CPU per
// row in benchmark 12 stayed within the run-to-run noise (BENCHMARKS.md, issue 17 sixth pass);
// llhttp parses headers and chunk framing, a small part of a page's cost. It must be set before
// undici compiles llhttp (its first request), and applies to every thread (the window workers).
// The CLI only: a library user's process keeps its own flags.
setFlagsFromString('--liftoff-only');

// A closed pipe (`tickpipe tail --json | head -1`) is the reader saying "enough", not a crash: exit
// quietly on stdout, and stop drawing progress on stderr without failing the command.
process.stdout.on('error', (err) => {
  if (err && err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
process.stderr.on('error', (err) => {
  if (err && err.code === 'EPIPE') return;
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`tickpipe: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
