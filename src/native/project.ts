/**
 * Which project `backend build` runs in, and what to tell its user when npm left tfjs-node out of
 * node_modules. In this repository the cause is an npm older than 11.19 (package.json denies the
 * install script). In a user's project that installed the durable-fit package, our `allowScripts`
 * does not count (npm reads only the project's own), so npm runs tfjs-node's install script, which
 * downloads libtensorflow, fails offline, and npm drops the optional package: the fix is the same
 * deny entries in that project's package.json and `npm install` again.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TfjsNodeMissingError } from './errors';
import { CPU_BUILD, GPU_BUILD } from './pins';

/** The packages whose install scripts a project must deny: `backend build` does their download's job. */
export const DENIED_INSTALL_SCRIPTS: readonly string[] = [CPU_BUILD.package, GPU_BUILD.package];

/** The first npm that honours `allowScripts` in package.json. */
export const NPM_WITH_ALLOW_SCRIPTS = '11.19';

export interface NativeProject {
  /** `repo`: a checkout of durable-fit (its package.json, with src/ beside it); `user`: any other project. */
  kind: 'repo' | 'user';
  /** The nearest package.json at or above the folder it runs in, outside node_modules. */
  packageJson?: string;
  /** The packages whose install scripts that package.json denies (`"allowScripts": { pkg: false }`). */
  denied: string[];
}

/** Finds the project a command run in `from` works on: the nearest package.json not inside node_modules. */
export function findProject(from: string = process.cwd()): NativeProject {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!dir.split(path.sep).includes('node_modules') && fs.existsSync(file)) {
      const json = readJson(file);
      return {
        kind:
          json?.name === 'durable-fit' && fs.existsSync(path.join(dir, 'src', 'native')) ? 'repo' : 'user',
        packageJson: file,
        denied: deniedScripts(json?.allowScripts),
      };
    }
    if (path.dirname(dir) === dir) return { kind: 'user', denied: [] };
  }
}

function readJson(file: string): { name?: unknown; allowScripts?: unknown } | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown; allowScripts?: unknown };
  } catch {
    return undefined;
  }
}

/** Package names with a `false` entry; keys may pin a version (`@scope/pkg@1.2.3`). */
function deniedScripts(allowScripts: unknown): string[] {
  if (typeof allowScripts !== 'object' || allowScripts === null) return [];
  return Object.entries(allowScripts)
    .filter(([, allowed]) => allowed === false)
    .map(([key]) => key.replace(/(?<=.)@.*$/, ''));
}

/** The npm version that runs (or would run) installs here: from npx's user agent, else `npm --version`. */
export function npmVersion(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const agent = /^npm\/(\d+\.\d+\.\d+)/.exec(env.npm_config_user_agent ?? '');
  if (agent) return agent[1];
  const out = spawnSync('npm', ['--version'], { encoding: 'utf8', timeout: 15_000, env });
  return out.status === 0 && /^\d+\.\d+\.\d+/.test(out.stdout.trim()) ? out.stdout.trim() : undefined;
}

/** Whether `version` honours `allowScripts` (npm ≥ 11.19). */
export function honoursAllowScripts(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  const [needMajor = 0, needMinor = 0] = NPM_WITH_ALLOW_SCRIPTS.split('.').map(Number);
  return major > needMajor || (major === needMajor && minor >= needMinor);
}

/** What to do about a missing tfjs-node(-gpu): `detail` for the error, `short` for `backend status`. */
export interface InstallAdvice {
  detail: string;
  short: string;
}

const ALLOW_SCRIPTS_JSON = `"allowScripts": { ${DENIED_INSTALL_SCRIPTS.map((p) => `"${p}": false`).join(', ')} }`;
const NPM_PKG_SET = `npm pkg set ${DENIED_INSTALL_SCRIPTS.map((p) => `allowScripts.${p}=false`).join(' ')} --json`;

/** The advice for `pkg` missing from node_modules in `project`; `npm` is the npm version, when known. */
export function installAdvice(pkg: string, project: NativeProject, npm?: string): InstallAdvice {
  const oldNpm = npm !== undefined && !honoursAllowScripts(npm);
  const upgrade = oldNpm
    ? ` This npm is ${npm}, which ignores allowScripts: upgrade it (\`npm install -g npm@11\`), or ` +
      "install with `npm install --ignore-scripts` (it skips every dependency's install script)."
    : '';
  if (project.kind === 'repo')
    return {
      detail:
        'It is an optional dependency whose install script package.json denies (allowScripts); an npm ' +
        'that ignores allowScripts runs the script anyway, which fails offline and drops the package. ' +
        `Use npm ${NPM_WITH_ALLOW_SCRIPTS} or newer and run \`npm ci\`, then \`durable-fit backend build\`.` +
        upgrade,
      short: `run npm ci with npm ≥ ${NPM_WITH_ALLOW_SCRIPTS}`,
    };
  if (!project.packageJson)
    return {
      detail:
        "No package.json was found here or above: run `npx durable-fit backend build` in your project's " +
        'folder, the one whose package.json depends on durable-fit.',
      short: 'no package.json here or above: run it in your project',
    };
  const then = 'then `npx durable-fit backend build`';
  if (project.denied.includes(pkg))
    return {
      detail:
        `${project.packageJson} already denies its install script (allowScripts), so run \`npm install\` ` +
        `there again (npm ${NPM_WITH_ALLOW_SCRIPTS} or newer, without --omit=optional), ${then}.` +
        upgrade,
      short: `run npm install (npm ≥ ${NPM_WITH_ALLOW_SCRIPTS}, without --omit=optional)`,
    };
  return {
    detail:
      `npm ran its install script, which downloads libtensorflow (that fails offline), and dropped the ` +
      'optional package when it failed; durable-fit builds libtensorflow itself instead. Deny the ' +
      `script in your project's package.json (${project.packageJson}): add ${ALLOW_SCRIPTS_JSON}, ` +
      `e.g. with \`${NPM_PKG_SET}\`. Then run \`npm install\` (npm ${NPM_WITH_ALLOW_SCRIPTS} or newer), ` +
      `${then}.${upgrade}`,
    short: `deny its install script in ${project.packageJson} (${ALLOW_SCRIPTS_JSON}), then npm install`,
  };
}

/** The error for `pkg` missing from the node_modules that `from` resolves in, with the advice that fits. */
export function missingPackageError(
  pkg: string,
  from: string = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
): TfjsNodeMissingError {
  const project = findProject(from);
  const dir = project.packageJson ? path.dirname(project.packageJson) : path.resolve(from);
  return new TfjsNodeMissingError(pkg, dir, installAdvice(pkg, project, npmVersion(env)).detail);
}
