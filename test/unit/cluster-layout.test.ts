// The cluster topology's pure parts: the ports it keeps, the Temporal config it writes, the erasure
// set's endpoints, and the replication lag it reports (on in-memory object stores).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { resolveOptions } from '../../src/config/options';
import { clusterLayout, savedClusterLayout, TEMPORAL_SERVICES } from '../../src/stack/cluster-layout';
import { erasureSetEndpoints, replicationLag } from '../../src/stack/cluster-minio';
import { writeTemporalConfigs } from '../../src/stack/cluster-temporal';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';

function options() {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-layout-'));
  return resolveOptions({
    DFIT_STATE_DIR: stateDir,
    TEMPORAL_ADDRESS: '127.0.0.1:17111',
    DFIT_TEMPORAL_UI_PORT: '17112',
    DFIT_S3_ENDPOINT: 'http://127.0.0.1:17113',
    DFIT_S3_CONSOLE_PORT: '17114',
  });
}

test('the layout keeps the client ports of the options, distinct ports elsewhere, and is saved for the next up', async () => {
  const opts = options();
  try {
    const layout = await clusterLayout(opts);
    assert.equal(layout.ports.temporal.frontend.grpc, 17111);
    assert.equal(layout.ports.ui, 17112);
    assert.deepEqual(layout.ports.minio[0], { api: 17113, console: 17114 });
    const all = [
      layout.ports.postgres,
      layout.ports.frontendHttp,
      layout.ports.ui,
      ...TEMPORAL_SERVICES.flatMap((s) => Object.values(layout.ports.temporal[s])),
      ...layout.ports.minio.flatMap((n) => [n.api, n.console]),
      layout.ports.replica.api,
      layout.ports.replica.console,
    ];
    assert.equal(new Set(all).size, all.length, `no port twice: ${all.join(', ')}`);
    // Temporal's SQL stores keep the membership port in a smallint.
    for (const s of TEMPORAL_SERVICES) assert.ok(layout.ports.temporal[s].membership < 32768, s);
    assert.equal(layout.minioDrives.length, 4);
    assert.ok(layout.minioDrives.every((d) => d.length === 2));
    assert.deepEqual(savedClusterLayout(opts)?.ports, layout.ports, 'the same ports next time');
    const endpoints = erasureSetEndpoints(layout);
    assert.equal(endpoints.length, 8);
    assert.equal(new Set(endpoints).size, 8);
    assert.ok(endpoints.every((e) => e.startsWith('http://127.0.0.1:')));
  } finally {
    fs.rmSync(opts.stateDir, { recursive: true, force: true });
  }
});

test('each Temporal service gets its own owner-only config on PostgreSQL with its own metrics port', async () => {
  const opts = options();
  try {
    const layout = await clusterLayout(opts);
    writeTemporalConfigs(layout, 'pg-secret-x');
    const metrics = new Set<string>();
    for (const service of TEMPORAL_SERVICES) {
      const file = path.join(layout.temporalConfigDir, `${service}.yaml`);
      assert.equal(
        fs.statSync(file).mode & 0o077,
        0,
        `${service}.yaml is owner-only (it holds the password)`,
      );
      const config = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(config.persistence.datastores.default.sql.pluginName, 'postgres12');
      assert.equal(config.persistence.datastores.visibility.sql.databaseName, 'temporal_visibility');
      assert.equal(
        config.persistence.datastores.default.sql.connectAddr,
        `127.0.0.1:${layout.ports.postgres}`,
      );
      assert.equal(config.services[service].rpc.grpcPort, layout.ports.temporal[service].grpc);
      metrics.add(config.global.metrics.prometheus.listenAddress);
    }
    assert.equal(metrics.size, 4, 'one metrics port per process');
  } finally {
    fs.rmSync(opts.stateDir, { recursive: true, force: true });
  }
});

test('replication lag: objects the replica lacks (or holds at another size), and the oldest one’s age', async () => {
  const primary = createMemoryObjectClient('b');
  const replica = createMemoryObjectClient('b');
  assert.deepEqual(await replicationLag(primary, replica), {
    pending: 0,
    lagSeconds: 0,
    primaryObjects: 0,
    replicaObjects: 0,
  });
  await primary.put('run/a.ckpt', Buffer.from('aaaa'));
  await primary.put('run/b.ckpt', Buffer.from('bbbb'));
  await replica.put('run/a.ckpt', Buffer.from('aaaa'));
  await replica.put('run/b.ckpt', Buffer.from('bb')); // not fully there yet
  const [oldest] = (await primary.list('', { recursive: true })).map((o) => o.lastModified.getTime()).sort();
  const lag = await replicationLag(primary, replica, (oldest as number) + 4000);
  assert.equal(lag.pending, 1);
  assert.ok(lag.lagSeconds >= 3.9 && lag.lagSeconds <= 4.1, `lag ${lag.lagSeconds}`);
  await replica.put('run/b.ckpt', Buffer.from('bbbb'));
  assert.equal((await replicationLag(primary, replica)).pending, 0);
});
