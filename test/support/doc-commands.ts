/**
 * Finds the command lines that documentation shows a user: in Markdown (shell code blocks, with
 * `\` and PowerShell backtick continuations joined, and inline code spans that start with a
 * command) and in `--help` texts (the Usage line, commands quoted in backticks, and option lines
 * whose value is a concrete example such as `--window -10m,+20m`). A section another change adds
 * to the README is picked up the same way: nothing here lists commands by hand.
 */

/** A command line as documented, and where. */
export interface DocCommand {
  readonly source: string;
  readonly text: string;
}

/** Words a documented command line starts with. */
const COMMAND_START = /^(?:npx |npm |node |tickpipe |\$env:|export |touch |New-Item |Remove-Item |rm )/;

/** Joins continuations and drops comments of one shell block; returns its command lines. */
export function shellLines(block: string): string[] {
  const joined = block.replace(/[\\`]\r?\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.replace(/^\s*(?:\$|PS [^>]*>)\s+/, '').replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export function commandsInMarkdown(md: string, source: string): DocCommand[] {
  const out: DocCommand[] = [];
  const fence = /```(\w*)\n([\s\S]*?)```/g;
  let rest = '';
  let last = 0;
  for (let m = fence.exec(md); m; m = fence.exec(md)) {
    rest += md.slice(last, m.index);
    last = m.index + m[0].length;
    if (!['sh', 'bash', 'shell', 'powershell', 'pwsh', 'ps1', 'console'].includes(m[1]!)) continue;
    for (const line of shellLines(m[2]!)) if (COMMAND_START.test(line)) out.push({ source: `${source} (code block)`, text: line });
  }
  rest += md.slice(last);
  // Inline spans may wrap across a line break in the Markdown source.
  for (const m of rest.matchAll(/`([^`]+)`/g)) {
    const text = m[1]!.replace(/\s*\n\s*/g, ' ').trim();
    if (/^(?:npx |npm |node |tickpipe )/.test(text) || /^tickpipe$|^npm (?:start|test|ci)$/.test(text)) out.push({ source: `${source} (inline)`, text });
  }
  return out;
}

/** A concrete example value (not a placeholder like DIR, i/N or a,b). */
function concrete(value: string): boolean {
  return /\d/.test(value) && !/^[A-Z]/.test(value);
}

export function commandsInHelp(help: string, command: string): DocCommand[] {
  const source = `tickpipe ${command} --help`;
  const out: DocCommand[] = [];
  const usage = /^Usage: (tickpipe .*)$/m.exec(help);
  // The synopsis ends where a comment in two or more spaces begins.
  if (usage) out.push({ source, text: usage[1]!.split(/\s{2,}/)[0]! });
  for (const m of help.matchAll(/`([^`]+)`/g)) if (/^(?:npx |npm |node |tickpipe )/.test(m[1]!)) out.push({ source, text: m[1]! });
  for (const m of help.matchAll(/^\s+(--[a-z][\w-]*) (\S+)\s{2,}/gm)) {
    const [flag, value] = [m[1]!, m[2]!];
    if (/^[a-z]+(\|[a-z]+)+$/.test(value)) for (const alt of value.split('|')) out.push({ source, text: `tickpipe ${command} ${flag} ${alt}` });
    else if (concrete(value)) out.push({ source, text: `tickpipe ${command} ${flag} ${value}` });
  }
  return out;
}

/**
 * One runnable line from a documented one: `[--x]` optional parts included, `npx tickpipe` as
 * `tickpipe`, repeated spaces collapsed.
 */
export function normalizeCommand(text: string): string {
  return text
    .replace(/\s*\[options\]/g, '')
    .replace(/\[([^\]]*)\]/g, '$1')
    .replace(/\s*\.\.\.\s*$/, '')
    .replace(/^npx tickpipe\b/, 'tickpipe')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Splits a command line into words (single and double quotes honoured). */
export function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}
