/**
 * The shape of a CLI command and what the entry point hands it. Its own module so commands (and
 * the cluster's command runners) depend on this small contract, not on `main.ts`.
 */

/** What a command gets from the entry point; only main() decides the process exit status. */
export interface CommandIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly env: NodeJS.ProcessEnv;
}

/** A subcommand: `tickpipe <name> …`; returns the exit status. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  run(argv: string[], io: CommandIo): Promise<number>;
}
