#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

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
