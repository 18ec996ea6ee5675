/**
 * The layer fence (eslint.config.mjs, `LAYERS`) between folders. The lint rule sees one import at a
 * time, so a loop between folders made of imports that each look fine (config/options →
 * checkpoint/size-limit → config) passed it. This builds the import graph of src/, activities/ and
 * workflows/ from the TypeScript sources — every import, `export … from`, `require` and `import()`,
 * type-only ones included — with one node per folder under src/ (a file directly under src/ is a
 * node of its own), and holds it to the fence: every entry of src/ is in a layer, every import
 * between nodes goes down the layers, and there is no loop at all.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import ts from 'typescript';

const root = path.resolve(__dirname, '../..');
const SCANNED = ['src', 'activities', 'workflows'];

interface Layer {
  name: string;
  members: string[];
}

async function fenceLayers(): Promise<Layer[]> {
  const url = pathToFileURL(path.join(root, 'eslint.config.mjs')).href;
  const config = (await import(url)) as { LAYERS?: Layer[] };
  assert.ok(config.LAYERS, 'eslint.config.mjs exports LAYERS');
  return config.LAYERS.map((l) => ({ name: l.name, members: l.members.map((m) => m.replace(/^\.\//, '')) }));
}

/** The node a file belongs to: `src/<folder>`, `src/<file>.ts`, `activities` or `workflows`. */
function nodeOf(rel: string): string {
  const parts = rel.split('/');
  if (parts[0] !== 'src') return parts[0] as string;
  return parts.slice(0, 2).join('/');
}

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

function resolveImport(fromFile: string, specifier: string): string | undefined {
  const base = path.resolve(path.dirname(fromFile), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** node → node it imports → the file imports that make that edge (`a.ts → b.ts`). */
type FolderGraph = Map<string, Map<string, string[]>>;

/** The folder graph of the sources under `base` (relative imports only; packages are not nodes). */
function folderGraph(base: string): { graph: FolderGraph; unresolved: string[] } {
  const graph: FolderGraph = new Map();
  const unresolved: string[] = [];
  for (const file of SCANNED.flatMap((dir) => sourceFiles(path.join(base, dir)))) {
    const from = path.relative(base, file).split(path.sep).join('/');
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolveImport(file, fileName);
      if (!target) {
        unresolved.push(`${from}: ${fileName}`);
        continue;
      }
      const to = path.relative(base, target).split(path.sep).join('/');
      if (!SCANNED.includes(to.split('/')[0] as string)) continue; // package.json and the like
      const [a, b] = [nodeOf(from), nodeOf(to)];
      if (a === b) continue;
      const edges = graph.get(a) ?? new Map<string, string[]>();
      graph.set(a, edges);
      edges.set(b, [...new Set([...(edges.get(b) ?? []), `${from} → ${to}`])]);
    }
  }
  return { graph, unresolved };
}

/** A loop of the graph as its nodes, first repeated last (`[a, b, a]`), or undefined. */
function findLoop(graph: FolderGraph): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    const at = path.indexOf(node);
    if (at >= 0) return [...path.slice(at), node];
    if (done.has(node)) return undefined;
    path.push(node);
    for (const next of [...(graph.get(node)?.keys() ?? [])].sort()) {
      const loop = visit(next);
      if (loop) return loop;
    }
    path.pop();
    done.add(node);
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    const loop = visit(node);
    if (loop) return loop;
  }
  return undefined;
}

function describeLoop(graph: FolderGraph, loop: string[]): string {
  const steps = loop.slice(1).map((to, i) => {
    const from = loop[i] as string;
    return `  ${from} → ${to}: ${(graph.get(from)?.get(to) ?? []).join(', ')}`;
  });
  return `${loop.join(' → ')}\n${steps.join('\n')}`;
}

test('every entry under src/ is in exactly one layer of the fence, and every member exists', async () => {
  const layers = await fenceLayers();
  const members = layers.flatMap((l) => l.members);
  assert.deepEqual(
    members.filter((m, i) => members.indexOf(m) !== i),
    [],
    'a member is in two layers',
  );
  const entries = fs
    .readdirSync(path.join(root, 'src'), { withFileTypes: true })
    .filter((e) => e.isDirectory() || e.name.endsWith('.ts'))
    .map((e) => `src/${e.name}`);
  assert.deepEqual(
    entries.filter((e) => !members.includes(e)),
    [],
    'entries of src/ in no layer of eslint.config.mjs LAYERS',
  );
  for (const dir of SCANNED.filter((d) => d !== 'src'))
    assert.ok(members.includes(dir), `${dir} is in a layer`);
  assert.deepEqual(
    members.filter((m) => !fs.existsSync(path.join(root, m))),
    [],
    'LAYERS names paths that do not exist',
  );
});

test('every import between folders goes down the layers', async () => {
  const layers = await fenceLayers();
  const rank = new Map(layers.flatMap((l, i) => l.members.map((m) => [m, i] as const)));
  const { graph, unresolved } = folderGraph(root);
  assert.deepEqual(unresolved, [], 'relative imports that resolve to no file');
  const upward: string[] = [];
  for (const [from, edges] of graph) {
    for (const [to, files] of edges) {
      const [a, b] = [rank.get(from), rank.get(to)];
      assert.ok(a !== undefined && b !== undefined, `${from} and ${to} are in the fence`);
      if (a <= b) {
        upward.push(
          `${from} (${layers[a]?.name}) → ${to} (${layers[b]?.name}): ${files.slice(0, 3).join(', ')}`,
        );
      }
    }
  }
  assert.deepEqual(upward, [], 'imports to the same or a higher layer');
});

test('the folder graph has no loop', () => {
  const { graph } = folderGraph(root);
  assert.ok(graph.size > 10, `the graph has the folders of src/ (${graph.size} nodes)`);
  const loop = findLoop(graph);
  assert.equal(loop, undefined, loop && `a folder loop:\n${describeLoop(graph, loop)}`);
});

test('a loop made only of type imports, through index files, is found', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-folder-loop-'));
  try {
    const write = (rel: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    write('src/alpha/index.ts', "export { b } from '../beta/b';\nexport const a = 1;\n");
    write('src/beta/b.ts', "import type { G } from '../gamma';\nexport const b = 2 as unknown as G;\n");
    write('src/gamma.ts', "export type G = typeof import('./alpha').a;\n");
    write('activities/x.ts', "import { a } from '../src/alpha';\nexport const x = a;\n");
    const { graph, unresolved } = folderGraph(dir);
    assert.deepEqual(unresolved, []);
    assert.deepEqual(findLoop(graph), ['src/alpha', 'src/beta', 'src/gamma.ts', 'src/alpha']);
    graph.get('src/gamma.ts')?.delete('src/alpha');
    assert.equal(findLoop(graph), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
