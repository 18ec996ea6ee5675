/**
 * `durable-fit ckpt …`: list, inspect, download and import checkpoints (every read is hash-verified,
 * and signature-verified when a checkpoint signing key is configured).
 */
import { readFile } from 'node:fs/promises';
import { Argument, Command, InvalidArgumentError } from 'commander';
import { readCheckpointHeader } from '../checkpoint/format';
import type { CheckpointHeader } from '../checkpoint/format';
import { parseCheckpointUrl, runNameProblem } from '../checkpoint/keys';
import type { RunFolder } from '../checkpoint/run-folder';
import { importCheckpointFile } from '../checkpoint/import-file';
import { signingFromOptions } from '../checkpoint/signing-keys';
import { parseExact } from '../checkpoint/meta-codec';
import { signatureKeyId } from '../checkpoint/signing';
import { createRunFolder, createStore } from '../checkpoint/create-store';
import type { ConnectionFlags } from './common';
import { guarded, optionsFromFlags, print, printJson, withConnectionFlags } from './common';

type JsonFlag = ConnectionFlags & { json?: boolean };

const runNameArg = () =>
  new Argument('<runName>', 'the run folder (or the workflow id) whose checkpoints to list').argParser(
    (value: string) => {
      const problem = runNameProblem(value);
      if (problem) throw new InvalidArgumentError(`run name ${JSON.stringify(value)}: ${problem}`);
      return value;
    },
  );

const urlArg = () =>
  new Argument('<url>', 'checkpoint URL, s3://bucket/<run>/epoch=EEEE-step=SSSSSSS.ckpt').argParser(
    (value: string) => {
      try {
        parseCheckpointUrl(value);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
      return value;
    },
  );

export function ckptCommand(): Command {
  const ckpt = new Command('ckpt').description('list, inspect, download and import .ckpt checkpoints');
  withConnectionFlags(ckpt.command('ls'))
    .description("list a run's checkpoints, oldest first by (epoch, step)")
    .addArgument(runNameArg())
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit ckpt ls mnist-1\n  $ durable-fit ckpt ls mnist-1 --json --bucket my-ckpts',
    )
    .action(async (runName: string, flags: JsonFlag) => {
      await guarded(async () => {
        const options = optionsFromFlags(flags);
        // Read-only commands use the read-only user on the local stack (credentials/reader.json).
        const runs = createRunFolder(options, options.bucket, 'reader');
        const records = await listRunOrWorkflow(runs, runName);
        if (flags.json) return printJson(records);
        if (records.length === 0)
          return print(`no checkpoints for run "${runName}" in bucket ${options.bucket}`);
        for (const r of records) print(`${r.url}  ${formatBytes(r.bytes)}  ${r.lastModified.toISOString()}`);
      });
    });
  withConnectionFlags(ckpt.command('inspect'))
    .description('verify a checkpoint (size, SHA-256, header) and show its metadata and tensors')
    .addArgument(urlArg())
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit ckpt inspect s3://durable-fit/mnist-1/epoch=0002-step=0000750.ckpt\n' +
        '  $ durable-fit ckpt inspect s3://durable-fit/mnist-1/epoch=0002-step=0000750.ckpt --json',
    )
    .action(async (url: string, flags: JsonFlag) => {
      await guarded(async () => {
        const store = createStore(optionsFromFlags(flags), parseCheckpointUrl(url).bucket, 'reader');
        const stat = await store.stat(url);
        const header = readCheckpointHeader(await store.loadBytes(url));
        const report = inspection(url, stat.sha256 ?? '', header, store.signingKeyId !== undefined);
        if (flags.json) printJson(report);
        else printInspection(report);
      });
    });
  withConnectionFlags(ckpt.command('get'))
    .description('download a checkpoint to a local file; the file appears only once its SHA-256 verified')
    .addArgument(urlArg())
    .argument('<file>', 'local path to write')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit ckpt get s3://durable-fit/mnist-1/epoch=0002-step=0000750.ckpt ./model.ckpt\n' +
        '  $ python -c "from safetensors.numpy import load_file; print(load_file(\'model.ckpt\').keys())"',
    )
    .action(async (url: string, file: string, flags: ConnectionFlags) => {
      await guarded(async () => {
        const store = createStore(optionsFromFlags(flags), parseCheckpointUrl(url).bucket, 'reader');
        const target = await store.getToFile(url, file);
        print(`${file}  ${formatBytes(target.bytes)}  sha256 ${target.sha256} (verified)`);
      });
    });
  addImportCommand(ckpt);
  return ckpt;
}

/** `ckpt import <file> <run>`: the way back in for a checkpoint that travelled as a plain file. */
function addImportCommand(ckpt: Command): void {
  withConnectionFlags(ckpt.command('import'))
    .description(
      'upload a local .ckpt into a run folder, after verifying it in full (format v2 hash; with a ' +
        'signing key configured, its signature too)',
    )
    .argument('<file>', 'local .ckpt file, e.g. one downloaded with `ckpt get` or copied from elsewhere')
    .addArgument(runNameArg().argRequired())
    .option(
      '--sign',
      'sign the file with the configured key (DFIT_CKPT_SIGNING_KEY or DFIT_CKPT_SIGNING_KEYS_FILE): only ' +
        'for a file you trust; its embedded hash must verify, and a file whose signature names one of ' +
        'your keys but fails is refused',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit ckpt import ./epoch=0002-step=0000750.ckpt mnist-copy\n' +
        '  $ durable-fit ckpt import --sign ./from-before-signing.ckpt mnist-copy\n' +
        '  $ durable-fit start --task mnist-mlp --epochs 5 --seed 1 --resume-from <the printed url>',
    )
    .action(async (file: string, runName: string, flags: ConnectionFlags & { sign?: boolean }) => {
      await guarded(async () => {
        const options = optionsFromFlags(flags);
        const store = createStore(options, options.bucket);
        const bytes = await readFile(file);
        const signing = signingFromOptions(options);
        const saved = await importCheckpointFile(store, signing, runName, bytes, file, { sign: flags.sign });
        const signed = store.signingKeyId
          ? `, ${flags.sign ? 'signed with' : 'signature verified,'} key ${store.signingKeyId}`
          : '';
        print(
          `${saved.url}  ${formatBytes(saved.bytes)}  sha256 ${saved.sha256} (verified${signed}, imported)`,
        );
      });
    });
}

interface Inspection {
  url: string;
  bytes: number;
  sha256: string;
  verified: true;
  /** The key id the file's signature names, and whether it was verified (only with keys configured). */
  signature: { keyId: string | null; verified: boolean };
  metadata: Record<string, unknown>;
  tensors: { name: string; dtype: string; shape: number[]; bytes: number }[];
}

function inspection(url: string, sha256: string, header: CheckpointHeader, keyed: boolean): Inspection {
  const metadata = Object.fromEntries(
    Object.entries(header.metadata).map(([k, v]) => {
      try {
        const plain = ['format', 'format_version', 'kind', 'payload_sha256', 'payload_signature'];
        return [k, plain.includes(k) ? v : parseExact(v)];
      } catch {
        return [k, v];
      }
    }),
  );
  const tensors = header.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    bytes: t.end - t.begin,
  }));
  const keyId = signatureKeyId(header.metadata) ?? null;
  const signature = { keyId, verified: keyed && keyId !== null };
  return { url, bytes: header.totalBytes, sha256, verified: true, signature, metadata, tensors };
}

function printInspection(r: Inspection): void {
  const m = r.metadata;
  const short = (v: unknown) => {
    const text = JSON.stringify(v) ?? 'undefined';
    return text.length > 100 ? `${text.slice(0, 97)}...` : text;
  };
  print(`${r.url}\n  size     ${formatBytes(r.bytes)}\n  sha256   ${r.sha256} (verified)`);
  print(`  format   ${String(m.format)} v${String(m.format_version)} (${String(m.kind)})`);
  const { keyId, verified } = r.signature;
  const check = verified ? 'verified' : 'not checked: no signing key configured';
  print(`  signed   ${keyId === null ? 'no' : `key ${keyId} (${check})`}`);
  for (const key of ['task', 'cursor', 'backend', 'createdAt', 'weightsSha256', 'fingerprints']) {
    if (key in m) print(`  ${key.padEnd(8)} ${short(m[key])}`);
  }
  if (Array.isArray(m.metrics) && m.metrics.length)
    print(`  metrics  ${short(m.metrics.at(-1))} (last of ${m.metrics.length})`);
  const width = Math.max(4, ...r.tensors.map((t) => t.name.length));
  print(`\n  ${'name'.padEnd(width)}  dtype  ${'shape'.padEnd(16)}  bytes`);
  for (const t of r.tensors) {
    print(
      `  ${t.name.padEnd(width)}  ${t.dtype.padEnd(5)}  ${`[${t.shape.join(',')}]`.padEnd(16)}  ${t.bytes}`,
    );
  }
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * A run folder's checkpoints; for a name with none, those of the runs of workflow id `name` (a run
 * started without runName lives in `<workflowId>-<last 8 characters of its run id>`).
 */
async function listRunOrWorkflow(folders: RunFolder, name: string) {
  const own = await folders.list(name);
  if (own.length > 0) return own;
  const runs = (await folders.runsStartingWith(`${name}-`)).filter((r) =>
    /^[A-Za-z0-9]{8}$/.test(r.slice(name.length + 1)),
  );
  return (await Promise.all(runs.map((r) => folders.list(r)))).flat();
}
