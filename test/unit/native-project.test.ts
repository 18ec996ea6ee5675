/**
 * `backend build` without tfjs-node in node_modules: the advice depends on the project. In this
 * repository it is `npm ci` with npm ≥ 11.19; in a user's project it is the allowScripts deny entries
 * in that project's own package.json and `npm install` (npm ignores a dependency's allowScripts).
 * The package test (test/e2e/package.slow.test.ts) checks the same through the installed bin.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { TfjsNodeMissingError } from '../../src/native/errors';
import {
  DENIED_INSTALL_SCRIPTS,
  findProject,
  honoursAllowScripts,
  installAdvice,
  missingPackageError,
  npmVersion,
} from '../../src/native/project';

const repo = path.resolve(__dirname, '..', '..');
const PKG = '@tensorflow/tfjs-node';
const npm = (version: string) => ({ npm_config_user_agent: `npm/${version} node/v20.20.2 linux x64` });

function userProject(pkg: Record<string, unknown> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-user-project-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'my-app', ...pkg }));
  return dir;
}

test('this checkout is the repo; a project that installed the package is a user project', () => {
  assert.equal(findProject(repo).kind, 'repo');
  assert.equal(findProject(path.join(repo, 'src', 'native')).kind, 'repo');
  const app = userProject();
  // Run from inside the installed package or a subfolder: the project is still the user's.
  const installed = path.join(app, 'node_modules', 'durable-fit');
  fs.mkdirSync(path.join(installed, 'src', 'native'), { recursive: true });
  fs.writeFileSync(path.join(installed, 'package.json'), JSON.stringify({ name: 'durable-fit' }));
  fs.mkdirSync(path.join(app, 'scripts'));
  for (const from of [app, installed, path.join(app, 'scripts')])
    assert.deepEqual(findProject(from), {
      kind: 'user',
      packageJson: path.join(app, 'package.json'),
      denied: [],
    });
});

test('allowScripts false entries count as denials, pinned or not; true entries do not', () => {
  const app = userProject({
    allowScripts: { [`${PKG}@4.22.0`]: false, '@tensorflow/tfjs-node-gpu': true, canvas: false },
  });
  assert.deepEqual(findProject(app).denied, [PKG, 'canvas']);
});

test('in a user project without the deny entries, the error names its package.json and what to add', () => {
  const app = userProject();
  const err = missingPackageError(PKG, app, npm('11.19.1'));
  assert.ok(err instanceof TfjsNodeMissingError);
  assert.equal(err.projectDir, app);
  assert.match(err.message, new RegExp(`^@tensorflow/tfjs-node is not installed in ${app}/node_modules\\.`));
  assert.ok(err.message.includes(path.join(app, 'package.json')), err.message);
  assert.ok(
    err.message.includes(
      '"allowScripts": { "@tensorflow/tfjs-node": false, "@tensorflow/tfjs-node-gpu": false }',
    ),
    err.message,
  );
  assert.match(
    err.message,
    /run `npm install` \(npm 11\.19 or newer\), then `npx durable-fit backend build`/,
  );
  assert.doesNotMatch(err.message, /npm ci/);
  assert.doesNotMatch(err.message, /This npm is/, 'npm 11.19 honours allowScripts: no upgrade note');
});

test('the npm pkg set command the advice gives writes the deny entries npm reads', async () => {
  const app = userProject();
  const advice = installAdvice(PKG, findProject(app), '11.19.1').detail;
  const command = /`(npm pkg set [^`]+)`/.exec(advice)?.[1];
  assert.ok(command, advice);
  const [, ...args] = command.split(' ');
  await promisify(execFile)('npm', args, { cwd: app });
  const json = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(json.allowScripts, { '@tensorflow/tfjs-node': false, '@tensorflow/tfjs-node-gpu': false });
  assert.deepEqual(findProject(app).denied, DENIED_INSTALL_SCRIPTS);
});

test('with the deny entries already there, the advice is npm install again, and an old npm is named', () => {
  const app = userProject({ allowScripts: { [PKG]: false, '@tensorflow/tfjs-node-gpu': false } });
  const current = missingPackageError(PKG, app, npm('11.19.1')).message;
  assert.match(
    current,
    /already denies its install script \(allowScripts\), so run `npm install` there again/,
  );
  assert.doesNotMatch(current, /npm ci|This npm is/);
  const old = missingPackageError(PKG, app, npm('10.9.2')).message;
  assert.match(old, /This npm is 10\.9\.2, which ignores allowScripts: upgrade it/);
  assert.match(old, /npm install --ignore-scripts/);
});

test('in this repository the advice stays npm ci with npm ≥ 11.19', () => {
  const err = missingPackageError(PKG, repo, npm('11.19.1'));
  assert.equal(err.projectDir, repo);
  assert.match(err.message, /Use npm 11\.19 or newer and run `npm ci`, then `durable-fit backend build`\.$/);
  assert.equal(installAdvice(PKG, findProject(repo)).short, 'run npm ci with npm ≥ 11.19');
});

test('without any package.json the advice is to run it in the project', () => {
  const advice = installAdvice(PKG, { kind: 'user', denied: [] });
  assert.match(advice.detail, /No package\.json was found here or above/);
});

test("npm's version comes from npx's user agent, else from npm itself; allowScripts needs 11.19", () => {
  assert.equal(npmVersion(npm('11.20.0')), '11.20.0');
  assert.match(npmVersion({ PATH: process.env.PATH }) ?? '', /^\d+\.\d+\.\d+/);
  assert.equal(npmVersion({ PATH: '' }), undefined, 'no npm found: unknown, not an error');
  for (const v of ['11.19.0', '11.19.1', '11.20.0', '12.0.0']) assert.ok(honoursAllowScripts(v), v);
  for (const v of ['11.18.9', '10.9.2', '9.0.0']) assert.ok(!honoursAllowScripts(v), v);
});
