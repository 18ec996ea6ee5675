/**
 * What the selected test files need from the machine besides npm packages, checked before any test
 * starts: installed the way `.ci/run` does when we can (root with apt-get), otherwise one line that
 * says what to run. A missing browser used to surface as a failed assertion at the very end.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { POSTGRES_APT_INSTALL } from '../src/stack/cluster-postgres';

/** Server majors the cluster topology finds under /usr/lib/postgresql (src/stack/cluster-postgres.ts). */
const POSTGRES_MAJORS = [13, 14, 15, 16, 17, 18];

/** Debian's chromium, which playwright-core drives in the Web UI test (no browser download). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The machine, as the check sees it; injectable so the decisions are unit-tested. */
export interface MachineProbe {
  exists(path: string): boolean;
  readFile(path: string): string;
  isRoot(): boolean;
  hasCommand(name: string): boolean;
  /** Runs a shell command with inherited output; true when it exits 0. */
  run(command: string): boolean;
  log(line: string): void;
}

interface Prerequisite {
  what: string;
  /** Whether this test file needs it. */
  neededBy(source: string): boolean;
  present(m: MachineProbe): boolean;
  /** The install command, run only as root where apt-get exists (as `.ci/run` does). */
  aptInstall: string;
  /** What a user who is not root runs. */
  hint: string;
}

const PREREQUISITES: readonly Prerequisite[] = [
  {
    what: `Chromium at ${CHROMIUM_PATH} (for the Web UI browser test)`,
    neededBy: (source) => source.includes("from 'playwright-core'"),
    present: (m) => m.exists(CHROMIUM_PATH),
    aptInstall: 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium',
    hint: 'sudo apt-get install -y chromium',
  },
  {
    what: 'PostgreSQL from the postgresql package (for the cluster tier, `stack up --topology cluster`)',
    neededBy: (source) => source.includes("from '../helpers/cluster-stack'"),
    present: (m) => POSTGRES_MAJORS.some((v) => m.exists(`/usr/lib/postgresql/${v}/bin/postgres`)),
    aptInstall: POSTGRES_APT_INSTALL,
    hint: 'sudo apt-get install -y postgresql',
  },
];

/**
 * Installs what `files` need and is missing, when possible. Returns `undefined` when everything is
 * there, else the one line to print before exiting non-zero.
 */
export function ensurePrerequisites(files: readonly string[], m: MachineProbe): string | undefined {
  const sources = files.map((f) => m.readFile(f));
  const missing = PREREQUISITES.filter((p) => sources.some((s) => p.neededBy(s)) && !p.present(m));
  const unmet = missing.filter((p) => !install(p, m));
  if (unmet.length === 0) return undefined;
  return (
    `npm test: missing ${unmet.map((p) => p.what).join(' and ')}; run \`${unmet.map((p) => p.hint).join(' && ')}\` ` +
    'and try again (or leave the slow tests out: `npm test -- --no-slow`)'
  );
}

function install(p: Prerequisite, m: MachineProbe): boolean {
  if (!m.isRoot() || !m.hasCommand('apt-get')) return false;
  m.log(`npm test: installing ${p.what}: ${p.aptInstall}`);
  return m.run(p.aptInstall) && p.present(m);
}

/** The real machine. */
export const thisMachine: MachineProbe = {
  exists: (path) => fs.existsSync(path),
  readFile: (path) => fs.readFileSync(path, 'utf8'),
  isRoot: () => process.getuid?.() === 0,
  hasCommand: (name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0,
  run: (command) => spawnSync('sh', ['-c', command], { stdio: 'inherit' }).status === 0,
  log: (line) => console.error(line),
};
