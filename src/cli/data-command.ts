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
import type { ImageShape } from '../data/images';
import { importImageFolder, listImageFolder, parseImageShape } from '../data/images';
import type { ImportResult } from '../data/importer';
import { DEFAULT_SHARD_SIZE, importFiles } from '../data/importer';
import { expandInputs } from '../data/inputs';
import { decodeShard } from '../data/shard-codec';
import { createMinioObjectClient } from '../storage/minio-adapter';
import type { ConnectionFlags } from './common';
import { guarded, optionsFromFlags, print, printJson, withConnectionFlags } from './common';

type Flags = ConnectionFlags & { json?: boolean };
type ImportFlags = Flags & {
  name: string;
  labelColumn?: string;
  imageShape?: ImageShape;
  shardSize: number;
  progress?: boolean;
};

const byteSize = (value: string) => {
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw new InvalidArgumentError(`"${value}" is not a size (e.g. 64MB, 1GiB)`);
  return bytes;
};

const imageShapeArg = (value: string) => {
  try {
    return parseImageShape(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
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
    .description(
      'import CSV, JSON Lines or Parquet files, or a folder of PNG/JPEG images in class sub-folders, ' +
        'as a new dataset version',
    )
    .argument(
      '<inputs...>',
      'files, folders (their .csv/.jsonl/.parquet files) or globs like data/*.csv; with --image-shape, one folder of class sub-folders',
    )
    .requiredOption('--name <name>', 'dataset name (lower-case letters, digits, - and _)')
    .option(
      '--label-column <column>',
      'column of integer class labels (stored as int32); for images, the name of the class-index column (default label)',
    )
    .addOption(
      new Option(
        '--image-shape <HxWxC>',
        'import a folder of images (one sub-folder per class), each resized to H×W with C channels (1 grey, 3 RGB), values 0..1',
      ).argParser(imageShapeArg),
    )
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
        '  $ durable-fit data import parts/ --name clicks --shard-size 128MB\n' +
        '  $ durable-fit data import photos/ --name pets --image-shape 64x64x3   # photos/cat/*.png, photos/dog/*.jpg',
    )
    .action(async (inputs: string[], flags: ImportFlags) => {
      await guarded(async () => {
        const store = openStore(flags, 'worker');
        if (flags.imageShape && inputs.length !== 1)
          throw new Error(
            `--image-shape imports one folder of class sub-folders; ${inputs.length} inputs were given`,
          );
        const images = flags.imageShape ? await listImageFolder(inputs[0] as string) : undefined;
        const files = images ? images.files.map((f) => f.file) : await expandInputs(inputs);
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
        const common = {
          name: flags.name,
          ...(flags.labelColumn !== undefined ? { labelColumn: flags.labelColumn } : {}),
          shardSizeBytes: flags.shardSize,
          onProgress: (p: { bytesRead: number; rows: number }) => bar?.update(p.bytesRead, { rows: p.rows }),
        };
        const imported: Promise<ImportResult> =
          images && flags.imageShape
            ? importImageFolder(store, images, { ...common, imageShape: flags.imageShape })
            : importFiles(store, files, common);
        const result = await imported.finally(() => bar?.stop());
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
          ...(result.manifest.classes ? { classes: result.manifest.classes } : {}),
        };
        if (flags.json) return printJson(summary);
        print(
          `${result.existed ? 'already imported' : 'imported'} ${flags.name}@${result.version}: ` +
            `${summary.rows} rows in ${summary.shards} shards from ${files.length} file(s)` +
            `${images ? ` in ${images.classes.length} classes` : ''}, ` +
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
        if (d.manifest.classes) print(`  classes: ${describeClasses(d.manifest.classes)}`);
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

/** `0 cat, 1 dog`; past 20 classes the first 20 and a count (`--json` lists them all). */
function describeClasses(classes: readonly string[]): string {
  const shown = classes.slice(0, 20).map((c, i) => `${i} ${c}`);
  const more = classes.length - shown.length;
  return `${classes.length}: ${shown.join(', ')}${more > 0 ? `, … ${more} more (--json lists them all)` : ''}`;
}

const totalBytes = (d: ResolvedDataset) => d.manifest.shards.reduce((n, s) => n + s.bytes, 0);
