/**
 * `durable-fit backend build`: the pinned native TensorFlow backend, built once per version into
 * the tools cache and linked into node_modules, so `npm ci` wiping node_modules costs a link, not
 * a rebuild. Steps: pip download (SHA-256 checked) → extract the libraries and C headers →
 * compile tfjs-node's addon with node-gyp → record a manifest → link.
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkCompiler, compileAddon, findNodeDir, findNodeGyp, stageSources } from './addon';
import type { NativeManifest } from './cache';
import {
  addonPath,
  buildDir,
  createCacheRoot,
  installedPackageDir,
  NAPI_VERSION,
  readManifest,
  writeManifest,
} from './cache';
import { ensureGraphAddon } from './graph-build';
import { addLibraryAliases, hasLibraries, linkDepsLib } from './layout';
import { linkIntoPackage } from './link';
import type { NativeBuildSpec, NativeFlavor } from './pins';
import { buildSpec, HEADER_GLOBS, LIBRARIES } from './pins';
import { missingPackageError } from './project';
import type { StepRunner } from './run-step';
import { createStepRunner } from './run-step';
import { downloadWheel, extractMembers, extraRequirements, sha256File } from './wheel';

export interface NativeBuildOptions {
  /** `cpu` (tensorflow-cpu wheel) or `gpu` (tensorflow + nvidia-*-cu12 wheels). @default 'cpu' */
  flavor?: NativeFlavor;
  /** Cache root, e.g. `~/.cache/durable-fit/tfjs-node` (see `nativeCacheRoot`). */
  cacheRoot: string;
  /** Python with pip, for `pip download` and unzipping. @default 'python3' */
  python?: string;
  /** Rebuild even when the cache has this version. @default false */
  force?: boolean;
  /** Where node_modules is looked up from. @default process.cwd() */
  projectDir?: string;
  /** Progress lines. @default writes to stderr */
  progress?: (line: string) => void;
}

export interface NativeBuildResult {
  dir: string;
  manifest: NativeManifest;
  /** False when the cache already had it (then only the link was made). */
  built: boolean;
  /** The node_modules package folder it was linked into. */
  linkedInto: string;
}

/** Builds the pinned native backend when the cache lacks it, then links it into node_modules. */
export async function ensureNativeBuild(options: NativeBuildOptions): Promise<NativeBuildResult> {
  const spec = buildSpec(options.flavor ?? 'cpu');
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const packageDir = installedPackageDir(spec.package, options.projectDir);
  if (!packageDir) throw missingPackageError(spec.package, options.projectDir);
  const dir = buildDir(options.cacheRoot, spec);
  let manifest = options.force ? undefined : readManifest(dir);
  const built = !manifest;
  if (!manifest) manifest = await buildInto(dir, spec, packageDir, options, progress);
  const logFile = path.join(options.cacheRoot, `build-${spec.flavor}-graph.log`);
  fs.writeFileSync(logFile, '');
  await ensureGraphAddon(dir, createStepRunner(logFile, progress), progress);
  linkIntoPackage(packageDir, dir);
  progress(`${spec.package} → ${dir} (TensorFlow ${manifest.tfVersion}${built ? '' : ', cached'})`);
  return { dir, manifest, built, linkedInto: packageDir };
}

async function buildInto(
  dir: string,
  spec: NativeBuildSpec,
  packageDir: string,
  options: NativeBuildOptions,
  progress: (line: string) => void,
): Promise<NativeManifest> {
  checkCompiler(); // fail before a 274 MB download, naming what to install
  findNodeDir();
  findNodeGyp();
  createCacheRoot(options.cacheRoot);
  const staging = fs.mkdtempSync(path.join(options.cacheRoot, `.build-${spec.flavor}-`));
  fs.chmodSync(staging, 0o755); // mkdtemp makes it private; the cache may serve other users' checkouts
  const logFile = path.join(options.cacheRoot, `build-${spec.flavor}.log`);
  fs.writeFileSync(logFile, '');
  const run = createStepRunner(logFile, progress);
  const python = options.python ?? 'python3';
  const started = Date.now();
  const step = (line: string) => progress(`[${Math.round((Date.now() - started) / 1000)}s] ${line}`);
  try {
    step(`building ${spec.package} ${spec.tfjsVersion} on TensorFlow ${spec.tfVersion} (log: ${logFile})`);
    const wheels = await fetchWheels(spec, path.join(staging, 'wheels'), python, run, step);
    step('extracting libtensorflow and its C headers');
    await unpack(wheels, staging, python, run);
    step('compiling the addon with node-gyp');
    const src = path.join(staging, 'src');
    stageSources(packageDir, src);
    fs.symlinkSync(path.join(staging, 'deps'), path.join(src, 'deps'));
    const addon = await compileAddon(src, run);
    fs.mkdirSync(path.dirname(addonPath(staging)), { recursive: true });
    fs.copyFileSync(addon, addonPath(staging));
    const manifest: NativeManifest = {
      ...{
        flavor: spec.flavor,
        package: spec.package,
        tfjsVersion: spec.tfjsVersion,
        tfVersion: spec.tfVersion,
      },
      wheels: await Promise.all(
        wheels.map(async (w) => ({ file: path.basename(w), sha256: await sha256File(w) })),
      ),
      napiVersion: NAPI_VERSION,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((Date.now() - started) / 1000),
    };
    for (const scratch of ['wheels', 'src'])
      fs.rmSync(path.join(staging, scratch), { recursive: true, force: true });
    writeManifest(staging, manifest);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(staging, dir);
    step(`built in ${manifest.buildSeconds}s`);
    return manifest;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** The TF wheel first, then (GPU) the CUDA wheels its `and-cuda` extra pins. */
async function fetchWheels(
  spec: NativeBuildSpec,
  dir: string,
  python: string,
  run: StepRunner,
  step: (line: string) => void,
): Promise<string[]> {
  const wheels: string[] = [];
  for (const pin of spec.wheels) {
    step(`downloading ${pin.requirement} with pip`);
    wheels.push(await downloadWheel(pin, dir, python, run));
  }
  if (spec.flavor === 'gpu') {
    const cuda = await extraRequirements(wheels[0]!, 'and-cuda', python, run);
    for (const requirement of cuda) {
      step(`downloading ${requirement} (CUDA; hash recorded in the manifest)`);
      wheels.push(await downloadWheel({ requirement }, dir, python, run));
    }
  }
  return wheels;
}

async function unpack(wheels: string[], root: string, python: string, run: StepRunner): Promise<void> {
  const [tfWheel, ...cudaWheels] = wheels;
  const site = path.join(root, 'site');
  const libs = [LIBRARIES.cc, LIBRARIES.framework].map((f) => `tensorflow/${f}`);
  await extractMembers(tfWheel!, libs, site, '', python, run);
  await extractMembers(
    tfWheel!,
    HEADER_GLOBS,
    path.join(root, 'deps', 'include'),
    'tensorflow/include/',
    python,
    run,
  );
  for (const wheel of cudaWheels) await extractMembers(wheel, ['nvidia/*'], site, '', python, run);
  if (!hasLibraries(root)) throw new Error(`the wheel ${path.basename(tfWheel!)} lacks ${libs.join(' or ')}`);
  addLibraryAliases(path.join(site, 'tensorflow'));
  linkDepsLib(root);
}
