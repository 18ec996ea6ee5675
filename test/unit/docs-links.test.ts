// The README is the front door and docs/ the rooms behind it: this keeps both honest. Every relative
// link in README.md and docs/*.md resolves to a file (and a `#anchor` to a heading of that file, by
// GitHub's slug rules); every `durable-fit <command> --flag` the docs show, in code blocks and inline
// code, is in that command's `--help`; tables stay readable (no row over 200 characters); the README
// stays under 400 lines, opens with the two commands, and links every page of docs/.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'durable-fit.cjs');
/** Written by scripts (bench/report.ts, scripts/reliability.ts) or wide measurement tables: rows are not ours to wrap. */
const WIDE_TABLES_ALLOWED = ['docs/benchmarks.md', 'docs/reliability.md', 'docs/native.md'];
const MAX_ROW = 200;
/** Fenced code in these languages is not a shell: `durable-fit` there is a module name, not a command. */
const NOT_SHELL = new Set('ts typescript js javascript json yaml yml toml py python'.split(' '));

// ---------------------------------------------------------------------------------------------------
// Markdown: headings, links, code

interface Located {
  text: string;
  line: number;
}

interface ParsedDoc {
  /** GitHub anchors of the headings, duplicates numbered as GitHub does (`x`, `x-1`, …). */
  anchors: Set<string>;
  links: Located[];
  /** Shell text: lines of shell-like fenced blocks (continuations joined) and inline code spans. */
  code: Located[];
  /** Table rows (outside fences). */
  rows: Located[];
}

/** GitHub's heading anchor: the rendered text, lower-cased, punctuation dropped, spaces to hyphens. */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1') // images: their alt text
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // links: their text
    .replace(/<[^>]+>/g, '') // HTML tags
    .replace(/\*+/g, '') // bold, italic
    .trim();
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
    .replace(/ /g, '-');
}

function parseDoc(source: string): ParsedDoc {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const links: Located[] = [];
  const code: Located[] = [];
  const rows: Located[] = [];
  const lines = source.split('\n');
  let fence: { marker: string; shell: boolean } | undefined;
  let prose: Located[] = []; // a run of lines outside fences, scanned as one text (code spans may wrap)
  const flushProse = () => {
    scanProse(prose, links, code);
    prose = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const lineNo = i + 1;
    const opener = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/.exec(line);
    if (fence) {
      if (opener && opener[1]!.startsWith(fence.marker) && !opener[2]) fence = undefined;
      else if (fence.shell) {
        // A line ending in `\` goes on with the next: one command.
        let text = line;
        while (text.endsWith('\\') && i + 1 < lines.length) text = text.slice(0, -1) + ' ' + lines[++i];
        code.push({ text, line: lineNo });
      }
      continue;
    }
    if (opener) {
      flushProse();
      fence = { marker: opener[1]!, shell: !NOT_SHELL.has(opener[2]!.toLowerCase()) };
      continue;
    }
    const heading = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = githubSlug(heading[2]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    if (/^\s*\|/.test(line)) rows.push({ text: line, line: lineNo });
    prose.push({ text: line, line: lineNo });
  }
  flushProse();
  return { anchors, links, code, rows };
}

/** Links and inline code of consecutive prose lines; a code span is not a link and may wrap a line. */
function scanProse(lines: Located[], links: Located[], code: Located[]): void {
  if (lines.length === 0) return;
  const text = lines.map((l) => l.text).join('\n');
  const lineAt = (offset: number) => lines[text.slice(0, offset).split('\n').length - 1]!.line;
  // Inline code first: its spans become blanks of the same length, so offsets stay put.
  let blanked = text;
  for (const m of text.matchAll(/(`+)([\s\S]*?[^`])\1(?!`)/g)) {
    code.push({ text: m[2]!.replace(/\n/g, ' '), line: lineAt(m.index) });
    blanked = blanked.slice(0, m.index) + m[0].replace(/[^\n]/g, ' ') + blanked.slice(m.index + m[0].length);
  }
  for (const m of blanked.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
    links.push({ text: m[1]!, line: lineAt(m.index) });
  for (const m of blanked.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm))
    links.push({ text: m[1]!, line: lineAt(m.index) });
}

// ---------------------------------------------------------------------------------------------------
// Links

const docs = new Map<string, ParsedDoc>();
function docAt(file: string): ParsedDoc {
  let doc = docs.get(file);
  if (!doc) docs.set(file, (doc = parseDoc(fs.readFileSync(file, 'utf8'))));
  return doc;
}

/** Why a link of `fromFile` does not resolve, or undefined when it does (or is not relative). */
function linkProblem(fromFile: string, target: string, read = docAt): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined; // http:, mailto:, …
  const hash = target.indexOf('#');
  const filePart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = filePart ? path.resolve(path.dirname(fromFile), filePart) : fromFile;
  if (path.relative(ROOT, file).startsWith('..')) return `${target}: outside the repository`;
  if (!fs.existsSync(file)) return `${target}: no such file (${path.relative(ROOT, file)})`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!file.endsWith('.md')) return `${target}: an anchor into a file that is not Markdown`;
  if (!read(file).anchors.has(anchor))
    return `${target}: no heading with the anchor #${anchor} in ${path.relative(ROOT, file)}`;
  return undefined;
}

function docFiles(): string[] {
  const dir = path.join(ROOT, 'docs');
  const pages = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => path.join(dir, f));
  return [path.join(ROOT, 'README.md'), ...pages];
}

const rel = (file: string) => path.relative(ROOT, file);

test('every relative link in README.md and docs/*.md resolves, anchors included', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const file of docFiles()) {
    for (const link of docAt(file).links) {
      checked++;
      const problem = linkProblem(file, link.text);
      if (problem) problems.push(`${rel(file)}:${link.line}: ${problem}`);
    }
  }
  assert.ok(checked > 50, `only ${checked} links found: is the parser broken?`);
  assert.deepEqual(problems, []);
});

test('the link check catches a missing file, a missing anchor and a missing heading in another page', () => {
  const readme = path.join(ROOT, 'README.md');
  assert.equal(linkProblem(readme, 'docs/security.md#threat-model'), undefined);
  assert.equal(linkProblem(readme, 'https://temporal.io'), undefined);
  assert.match(linkProblem(readme, 'docs/no-such-page.md') ?? '', /no such file/);
  assert.match(linkProblem(readme, 'docs/security.md#no-such-heading') ?? '', /no heading/);
  assert.match(linkProblem(readme, '#no-such-heading') ?? '', /no heading/);
});

test('anchors follow GitHub: punctuation and code marks dropped, spaces to hyphens, duplicates numbered', () => {
  assert.equal(githubSlug('One epoch, from `start` to the `.ckpt`'), 'one-epoch-from-start-to-the-ckpt');
  assert.equal(githubSlug('The codec server: the Web UI decoded'), 'the-codec-server-the-web-ui-decoded');
  assert.equal(githubSlug('GPU (`--gpu`): opt-in'), 'gpu---gpu-opt-in');
  assert.equal(githubSlug('See [tasks](docs/tasks.md) **now**'), 'see-tasks-now');
  const doc = parseDoc('# A\n\n## Same\n\n## Same\n\n```sh\n# not a heading\n```\n');
  assert.deepEqual([...doc.anchors], ['a', 'same', 'same-1']);
});

// ---------------------------------------------------------------------------------------------------
// CLI flags

/** One `durable-fit …` command shown in the docs: the words after `durable-fit`, its flags, where. */
interface Use {
  tokens: string[];
  flags: string[];
  where: string;
}

/** The `durable-fit …` commands in one piece of shell text (a code line or an inline code span). */
function commandUses(text: string, where: string): Use[] {
  const uses: Use[] = [];
  const clean = text
    .replace(/<[^<>]*>/g, 'X') // placeholders: <id>, <id | s3://…ckpt>
    .replace(/\\\|/g, ' ') // an escaped pipe in a table cell
    .replace(/(^|\s)#.*$/, ''); // a shell comment
  for (const raw of clean.split(/&&|\|\||;|\||&|\$\(|\(|\)/)) {
    const segment = raw
      .trim()
      .replace(/^\$\s+/, '')
      .replace(/^(?:[A-Z_][A-Z0-9_]*=\S*\s+)+/, ''); // FOO=bar durable-fit …
    const m = /^(?:npx\s+)?(?:durable-fit|node\s+\S*bin\/durable-fit\.cjs)(?:\s+(.*))?$/.exec(segment);
    if (!m || m[1] === undefined) continue;
    const tokens = m[1].split(/\s+/).map((t) => t.replace(/^[[(]+|[\])]+$/g, ''));
    const flags = tokens.filter((t) => /^--[a-z]/.test(t)).map((t) => t.split('=')[0]!);
    uses.push({ tokens, flags, where });
  }
  return uses;
}

interface Help {
  flags: Set<string>;
  subcommands: Set<string>;
}

/** The flags and subcommands a `--help` text lists (its Options and Commands sections). */
function parseHelp(text: string): Help {
  const flags = new Set<string>();
  const subcommands = new Set<string>();
  let section = '';
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) section = line.trim();
    else if (section === 'Options:') {
      const m = /^ {1,4}(?:-\w, )?(--[a-z][a-z0-9-]*)/.exec(line);
      if (m) flags.add(m[1]!);
    } else if (section === 'Commands:') {
      const m = /^ {1,4}([a-z][a-z0-9-]*)/.exec(line);
      if (m && m[1] !== 'help') subcommands.add(m[1]!);
    }
  }
  return { flags, subcommands };
}

/** Each `--help` once, a few at a time (one CLI start is about a second). */
function helpReader(): (words: string[]) => Promise<Help> {
  const run = promisify(execFile);
  const cache = new Map<string, Promise<Help>>();
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    if (running >= 4) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  return (words) => {
    const key = words.join(' ');
    let help = cache.get(key);
    if (!help) {
      help = (async () => {
        await slot();
        try {
          const { stdout } = await run(process.execPath, [CLI, ...words, '--help'], { cwd: ROOT }).catch(
            (err: { stderr?: string }) => {
              const why = (err.stderr ?? String(err)).trim().split('\n').slice(0, 6).join('\n');
              throw new Error(`${['durable-fit', ...words, '--help'].join(' ')} failed:\n${why}`);
            },
          );
          return parseHelp(stdout);
        } finally {
          release();
        }
      })();
      cache.set(key, help);
    }
    return help;
  };
}

/** What is wrong with the flags of these uses: unknown commands, flags their `--help` does not list. */
async function flagProblems(uses: Use[], help: (words: string[]) => Promise<Help>): Promise<string[]> {
  const top = await help([]);
  const resolved = await Promise.all(
    uses.map(async (use) => {
      const [first, second] = use.tokens;
      if (!first || first.startsWith('-')) return { use, words: [] as string[] }; // `durable-fit --version`
      if (!/^[a-z][a-z-]*$/.test(first)) return undefined; // `durable-fit <command> --flag`, `durable-fit …`
      if (!top.subcommands.has(first)) return { use, words: [first], unknown: true };
      const maySub = second !== undefined && /^[a-z][a-z-]*$/.test(second);
      if (!maySub && use.flags.length === 0) return { use, words: [first] }; // the top help knows it
      const own = await help([first]);
      if (own.subcommands.size > 0 && second && own.subcommands.has(second))
        return { use, words: [first, second] };
      if (own.subcommands.size > 0 && second && /^[a-z][a-z-]*$/.test(second))
        return { use, words: [first, second], unknown: true };
      return { use, words: [first] };
    }),
  );
  const problems: string[] = [];
  for (const found of resolved) {
    if (!found) continue;
    const { use, words, unknown } = found;
    const command = ['durable-fit', ...words].join(' ');
    if (unknown) {
      problems.push(`${use.where}: \`${command}\` is not a command of durable-fit`);
      continue;
    }
    if (use.flags.length === 0) continue;
    const known = words.length ? await help(words) : top;
    for (const flag of use.flags)
      if (!known.flags.has(flag))
        problems.push(`${use.where}: \`${command}\` has no ${flag} (see its --help)`);
  }
  return problems;
}

function allUses(): Use[] {
  return docFiles().flatMap((file) =>
    docAt(file).code.flatMap((piece) => commandUses(piece.text, `${rel(file)}:${piece.line}`)),
  );
}

test('every `durable-fit <command> --flag` in README.md and docs/*.md is in that command’s --help', async () => {
  const uses = allUses();
  assert.ok(uses.length > 40, `only ${uses.length} commands found: is the parser broken?`);
  assert.ok(
    uses.some((u) => u.flags.length > 0),
    'no flags found',
  );
  assert.deepEqual(await flagProblems(uses, helpReader()), []);
});

test('the flag check catches a made-up flag, a made-up command and a made-up subcommand', async () => {
  const help = async (words: string[]): Promise<Help> =>
    ({
      '': { flags: new Set(['--help']), subcommands: new Set(['start', 'stack']) },
      start: { flags: new Set(['--task', '--epochs']), subcommands: new Set<string>() },
      stack: { flags: new Set(['--help']), subcommands: new Set(['up']) },
      'stack up': { flags: new Set(['--tls']), subcommands: new Set<string>() },
    })[words.join(' ')] ?? { flags: new Set<string>(), subcommands: new Set<string>() };
  const uses = [
    ...commandUses('npx durable-fit start --task t --epochs=3 --made-up   # a comment --ignored', 'a'),
    ...commandUses('DFIT_X=1 durable-fit stack up --tls && durable-fit stack up --nope', 'b'),
    ...commandUses('durable-fit fly --high', 'c'),
    ...commandUses('durable-fit stack upp', 'd'),
    ...commandUses('durable-fit start <id | s3://…ckpt> [--task T]', 'e'),
    ...commandUses("import { x } from 'durable-fit'; s3://durable-fit/run", 'f'),
    ...commandUses('durable-fit <command> --flag', 'g'),
    ...commandUses('durable-fit --help', 'h'),
  ];
  assert.deepEqual(await flagProblems(uses, help), [
    'a: `durable-fit start` has no --made-up (see its --help)',
    'b: `durable-fit stack up` has no --nope (see its --help)',
    'c: `durable-fit fly` is not a command of durable-fit',
    'd: `durable-fit stack upp` is not a command of durable-fit',
  ]);
});

test('parseHelp reads commander’s Options and Commands sections', () => {
  const help = parseHelp(
    'Usage: durable-fit stack [options] [command]\n\nOptions:\n  -h, --help        display help\n' +
      '  --no-bars         print narration\n                    (mentions --not-a-flag)\n\n' +
      'Commands:\n  up [options]      start\n  help [command]    display help\n',
  );
  assert.deepEqual([...help.flags], ['--help', '--no-bars']);
  assert.deepEqual([...help.subcommands], ['up']);
});

// ---------------------------------------------------------------------------------------------------
// Shape of the front door

test('tables have no row over 200 characters (long rows are lists)', () => {
  const long = docFiles()
    .filter((file) => !WIDE_TABLES_ALLOWED.includes(rel(file)))
    .flatMap((file) =>
      docAt(file)
        .rows.filter((row) => [...row.text].length > MAX_ROW)
        .map((row) => `${rel(file)}:${row.line}: ${[...row.text].length} characters`),
    );
  assert.deepEqual(long, []);
});

test('the README opens with the two commands, stays under 400 lines and links every page of docs/', () => {
  const readmePath = path.join(ROOT, 'README.md');
  const readme = fs.readFileSync(readmePath, 'utf8');
  const lines = readme.split('\n').length - (readme.endsWith('\n') ? 1 : 0);
  assert.ok(lines <= 400, `README.md has ${lines} lines`);
  const firstBlock = /```\w*\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  assert.match(firstBlock, /^npm ci && npm start\b/m);
  assert.match(firstBlock, /^npm ci && npm test\b/m);
  // CI runs the README's test command.
  assert.match(fs.readFileSync(path.join(ROOT, '.ci', 'run'), 'utf8'), /^(?:\S+=\S+ )*npm test\s*$/m);
  const linked = new Set(docAt(readmePath).links.map((l) => path.resolve(ROOT, l.text.split('#')[0]!)));
  const unlinked = docFiles()
    .slice(1)
    .filter((page) => !linked.has(page))
    .map(rel);
  assert.deepEqual(unlinked, [], 'pages of docs/ the README does not link');
});
