/**
 * `durable-fit data …`: import files as a dataset version in the bucket, list, inspect and verify
 * datasets (docs/datasets.md).
 */
import { stat } from 'node:fs/promises';
import { Presets, SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { s3Connection } from '../checkpoint/create-store';
import { parseByteSize } from '../config/byte-size';
import type { S3Role } from '../config/s3-credentials';
import { DatasetStore, parseDatasetRef, shardKey } from '../data/dataset-store';
import type { ResolvedDataset } from '../data/dataset-store';
import { DEFAULT_SHARD_SIZE, importFiles } from '../data/importer';
import { expandInputs } from '../data/inputs';
import { decodeShard } from '../data/shard-codec';
import { createMinioObjectClient } from '../storage/minio-adapter';
import type { ConnectionFlags } from './common';
import { guarded, optionsFromFlags, print, printJson, withConnectionFlags } from './common';

type Flags = ConnectionFlags & { json?: boolean };
type ImportFlags = Flags & { name: string; labelColumn?: string; shardSize: number; progress?: boolean };

const byteSize = (value: string) => {
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw new InvalidArgumentError(`"${value}" is not a size (e.g. 64MB, 1GiB)`);
  return bytes;
};

const refArg = (value: string) => {
  try {
    parseDatasetRef(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
};

function openStore(flags: ConnectionFlags, role: S3Role): DatasetStore {
  const options = optionsFromFlags(flags);
  const deadline = { baseMs: options.s3DeadlineMs, perMiBMs: options.s3DeadlinePerMiBMs };
  return new DatasetStore(createMinioObjectClient(s3Connection(options, options.bucket, role), { deadline }));
}

export function dataCommand(): Command {
  const data = new Command('data').description('datasets in the bucket: import, list, inspect, verify');
  withConnectionFlags(data.command('import'))
    .description('import CSV, JSON Lines or Parquet files as a new dataset version')
    .argument('<inputs...>', 'files, folders (their .csv/.jsonl/.parquet files) or globs like data/*.csv')
    .requiredOption('--name <name>', 'dataset name (lower-case letters, digits, - and _)')
    .option('--label-column <column>', 'column of integer class labels (stored as int32)')
    .addOption(
      new Option('--shard-size <size>', 'decoded bytes per shard')
        .argParser(byteSize)
        .default(DEFAULT_SHARD_SIZE, '64MB'),
    )
    .option('--no-progress', 'no progress bar')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit data import train.csv --name iris --label-column species\n' +
        '  $ durable-fit data import parts/ --name clicks --shard-size 128MB',
    )
    .action(async (inputs: string[], flags: ImportFlags) => {
      await guarded(async () => {
        const store = openStore(flags, 'worker');
        const files = await expandInputs(inputs);
        let total = 0;
        for (const file of files) total += (await stat(file)).size;
        const bar =
          flags.progress !== false && process.stderr.isTTY
            ? new SingleBar(
                { format: 'import [{bar}] {percentage}% | {rows} rows', stream: process.stderr },
                Presets.shades_classic,
              )
            : undefined;
        bar?.start(total, 0, { rows: 0 });
        const started = Date.now();
        const result = await importFiles(store, files, {
          name: flags.name,
          ...(flags.labelColumn !== undefined ? { labelColumn: flags.labelColumn } : {}),
          shardSizeBytes: flags.shardSize,
          onProgress: (p) => bar?.update(p.bytesRead, { rows: p.rows }),
        }).finally(() => bar?.stop());
        const seconds = (Date.now() - started) / 1000;
        const summary = {
          name: flags.name,
          version: result.version,
          url: store.url(flags.name, result.version),
          rows: result.manifest.rows,
          shards: result.manifest.shards.length,
          inputBytes: total,
          seconds,
          existed: result.existed,
        };
        if (flags.json) return printJson(summary);
        print(
          `${result.existed ? 'already imported' : 'imported'} ${flags.name}@${result.version}: ` +
            `${summary.rows} rows in ${summary.shards} shards from ${files.length} file(s), ` +
            `${(total / 1e6 / Math.max(seconds, 1e-3)).toFixed(1)} MB/s\n  ${summary.url}`,
        );
      });
    });
  withConnectionFlags(data.command('ls'))
    .description('list datasets (or the versions of one)')
    .argument('[name]', 'a dataset whose versions to list')
    .option('--json', 'print as JSON')
    .action(async (name: string | undefined, flags: Flags) => {
      await guarded(async () => {
        const store = openStore(flags, 'reader');
        if (name !== undefined) {
          parseDatasetRef(name);
          const latest = await store.resolve(name).catch(() => undefined);
          const versions = await store.versions(name);
          if (flags.json) return printJson({ name, latest: latest?.version, versions });
          if (versions.length === 0)
            return print(`no versions of dataset "${name}" in bucket ${store.bucket}`);
          for (const v of versions) print(`${name}@${v}${v === latest?.version ? '  (latest)' : ''}`);
          return;
        }
        const rows = [];
        for (const n of await store.names()) {
          const d = await store.resolve(n);
          rows.push({
            name: n,
            version: d.version,
            rows: d.manifest.rows,
            shards: d.manifest.shards.length,
            bytes: totalBytes(d),
          });
        }
        if (flags.json) return printJson(rows);
        if (rows.length === 0) return print(`no datasets in bucket ${store.bucket}`);
        for (const r of rows)
          print(`${r.name}@${r.version.slice(0, 12)}  ${r.rows} rows  ${r.shards} shards  ${r.bytes} bytes`);
      });
    });
  withConnectionFlags(data.command('inspect'))
    .description("show a dataset version's manifest: columns, rows, shards with their SHA-256")
    .argument('<dataset>', 'name (latest version) or name@version', refArg)
    .option('--json', 'print as JSON')
    .action(async (ref: string, flags: Flags) => {
      await guarded(async () => {
        const d = await openStore(flags, 'reader').resolve(ref);
        if (flags.json) return printJson({ name: d.name, version: d.version, manifest: d.manifest });
        print(
          `${d.name}@${d.version}\n  ${d.manifest.rows} rows, ${d.manifest.shards.length} shards, ${totalBytes(d)} bytes`,
        );
        if (d.manifest.labelColumn) print(`  label column: ${d.manifest.labelColumn}`);
        print('  columns:');
        for (const c of d.manifest.columns)
          print(`    ${c.name.padEnd(16)} ${c.dtype.padEnd(8)} [${c.shape.join(',')}]`);
        print('  shards:');
        for (const s of d.manifest.shards)
          print(`    ${s.file}  ${s.rows} rows  ${s.bytes} bytes  ${s.sha256}`);
      });
    });
  withConnectionFlags(data.command('verify'))
    .description('read every shard of a dataset version: size, SHA-256 and Parquet decode')
    .argument('<dataset>', 'name (latest version) or name@version', refArg)
    .action(async (ref: string, flags: Flags) => {
      await guarded(async () => {
        const store = openStore(flags, 'reader');
        const d = await store.resolve(ref);
        for (const [i, s] of d.manifest.shards.entries()) {
          const decoded = await decodeShard(
            await store.readShard(d, i),
            d.manifest.columns,
            shardKey(d.name, d.version, s.file),
          );
          if (decoded.rows !== s.rows)
            throw new Error(
              `${shardKey(d.name, d.version, s.file)}: ${decoded.rows} rows, the manifest says ${s.rows}`,
            );
        }
        print(`${d.name}@${d.version}: ${d.manifest.shards.length} shards, ${d.manifest.rows} rows verified`);
      });
    });
  return data;
}

const totalBytes = (d: ResolvedDataset) => d.manifest.shards.reduce((n, s) => n + s.bytes, 0);
