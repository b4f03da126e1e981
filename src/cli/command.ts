/**
 * The shape of a CLI command, what the entry point hands it, and the one way to define one. Its
 * own module so commands (and the cluster's command runners) depend on this small contract, not on
 * `main.ts`.
 */
import { parseCommandLine, type FlagDefinitions, type HELP_FLAG, type ParsedFlags } from '../args.js';
import { DEFAULT_OUT_DIR } from '../run-folder/layout.js';

/** What a command gets from the entry point; only main() decides the process exit status. */
export interface CommandIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  readonly env: NodeJS.ProcessEnv;
}

/**
 * A subcommand: `tickpipe <name> …`; returns the exit status. Its one-line summary is in the
 * command list (`commands.ts`), which `tickpipe --help` reads without loading the command.
 */
export interface Command {
  readonly name: string;
  run(argv: string[], io: CommandIo): Promise<number>;
}

/** `--out DIR`: the run folder, {@link DEFAULT_OUT_DIR} when not given (see {@link outDir}). */
export const OUT_FLAG = { out: { type: 'string' } } as const;

/** `--json`: print the result as JSON instead of text. */
export const JSON_FLAG = { json: { type: 'boolean' } } as const;

/** One row of a help text's option table: the flag as typed, and what it does (`\n` between lines). */
export type OptionRow = readonly [flag: string, description: string];

/** The help row of {@link OUT_FLAG}, with the default. */
export const OUT_OPTION: OptionRow = ['--out DIR', `run folder (default ./${DEFAULT_OUT_DIR})`];

/** The help row of `-h, --help`, which {@link defineCommand} adds to every command. */
const HELP_OPTION: OptionRow = ['-h, --help', 'this help'];

/**
 * A command's `--help` text: `text`, then "Options:" with one row per option and `-h, --help` last.
 * Descriptions start at `column` (continuation lines too), so each command keeps its own layout.
 */
export function commandHelp(text: string, column: number, options: readonly OptionRow[]): string {
  const indent = ' '.repeat(column);
  const rows = [...options, HELP_OPTION].map(([flag, description]) => `  ${flag.padEnd(column - 2)}${description.replaceAll('\n', `\n${indent}`)}`);
  return `${text}\n\nOptions:\n${rows.join('\n')}`;
}

/** The run folder of a command line with {@link OUT_FLAG}. */
export function outDir(values: { readonly out?: string | undefined }): string {
  return values.out ?? DEFAULT_OUT_DIR;
}

/** The parsed flags of a command defined with `flags`, `--help` included. */
export type CommandValues<F extends FlagDefinitions> = ParsedFlags<F & typeof HELP_FLAG>['values'];

/** What {@link defineCommand} needs: `run` gets the parsed flags, never `--help`'s case. */
export interface CommandDefinition<F extends FlagDefinitions> {
  readonly name: string;
  /** The text of `tickpipe <name> --help`, without the final newline. */
  readonly help: string;
  /** The command's flags, `-h/--help` excepted (it is added last). */
  readonly flags: F;
  readonly positionals?: boolean;
  /** Load heavy modules in here (lazily), so `--help` and usage errors stay instant. */
  run(values: CommandValues<F>, io: CommandIo, positionals: string[]): Promise<number>;
}

/**
 * A command that parses its flags strictly (a bad flag is a `UsageError` naming it), answers
 * `-h/--help` with its help text and exit status 0, and otherwise runs.
 */
export function defineCommand<F extends FlagDefinitions>(def: CommandDefinition<F>): Command {
  return {
    name: def.name,
    async run(argv, io) {
      const parsed = parseCommandLine(def.name, argv, def.flags, def.help, (text) => io.stdout.write(text), def.positionals);
      return parsed === undefined ? 0 : def.run(parsed.values, io, parsed.positionals);
    },
  };
}
