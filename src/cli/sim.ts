import type { Command } from './command.js';

export const simCommand: Command = {
  name: 'sim',
  async run(argv, io) {
    const { simMain } = await import('../sim/cli.js');
    return simMain(argv, { stdout: io.stdout, stderr: io.stderr });
  },
};
