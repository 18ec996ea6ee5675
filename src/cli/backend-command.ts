/** `durable-fit backend …`: build and inspect the native TensorFlow backend. */
import { Command, Option } from 'commander';
import { resolveOptions } from '../config/options';
import { ensureNativeBuild, nativeCacheRoot, nativeStatus } from '../native';
import type { NativeFlavorStatus } from '../native';
import { fail } from './common';

const log = (line: string) => process.stderr.write(`${line}\n`);

interface BackendFlags {
  toolsDir?: string;
  python?: string;
}

function cacheRootOf(flags: BackendFlags): string {
  return nativeCacheRoot(
    resolveOptions({ ...process.env, ...(flags.toolsDir ? { DFIT_TOOLS_DIR: flags.toolsDir } : {}) })
      .toolsDir,
  );
}

function withBackendFlags(command: Command): Command {
  return command
    .addOption(
      new Option('--tools-dir <dir>', 'tools cache; native builds go to its sibling tfjs-node/').env(
        'DFIT_TOOLS_DIR',
      ),
    )
    .addOption(
      new Option('--python <exe>', 'Python with pip, for pip download').env('DFIT_PYTHON').default('python3'),
    );
}

export function backendCommand(): Command {
  const backend = new Command('backend').description('build and inspect the native TensorFlow backend');
  withBackendFlags(backend.command('build'))
    .description(
      'build tfjs-node on the pinned TensorFlow wheel (cached per version) and link it into node_modules',
    )
    .option('--gpu', 'build tfjs-node-gpu on the CUDA 12 wheels (multi-GB download, untested on a GPU here)')
    .option('--force', 'rebuild even when the cache has the pinned version')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit backend build\n  $ durable-fit backend build --gpu\n  $ durable-fit backend status --json\n',
    )
    .action(async (flags: BackendFlags & { gpu?: boolean; force?: boolean }) => {
      try {
        const result = await ensureNativeBuild({
          flavor: flags.gpu ? 'gpu' : 'cpu',
          cacheRoot: cacheRootOf(flags),
          python: flags.python,
          force: flags.force,
          progress: log,
        });
        process.stdout.write(`${result.linkedInto}\n`);
      } catch (err) {
        fail(err);
      }
    });
  withBackendFlags(backend.command('status'))
    .description('show whether each native backend is installed, built, linked into node_modules and loads')
    .option('--json', 'print as JSON')
    .action((flags: BackendFlags & { json?: boolean }) => {
      const status = nativeStatus(cacheRootOf(flags));
      if (flags.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else process.stdout.write(status.map(describe).join('\n') + '\n');
    });
  return backend;
}

function describe(s: NativeFlavorStatus): string {
  const name = s.flavor === 'gpu' ? 'tensorflow-gpu' : 'tensorflow';
  if (!s.installed)
    return `${name.padEnd(15)} ${s.package} not in node_modules: ${s.install ?? 'npm install it'}`;
  if (!s.manifest)
    return `${name.padEnd(15)} not built: run \`durable-fit backend build${s.flavor === 'gpu' ? ' --gpu' : ''}\``;
  if (!s.linked)
    return `${name.padEnd(15)} built in ${s.dir} but not linked: run \`durable-fit backend build\` to link it`;
  if (!s.loads)
    return `${name.padEnd(15)} built and linked but does not load: ${s.loadError ?? 'unknown error'}`;
  const graph = s.graphAddon
    ? `, graph mode ready (${name}-graph)`
    : ', graph addon not built (run `durable-fit backend build`)';
  return `${name.padEnd(15)} ready: TensorFlow ${s.tfVersion} (${s.package} ${s.manifest.tfjsVersion}, ${s.dir})${graph}`;
}
