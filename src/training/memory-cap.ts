/**
 * A memory cap for trainer children (worker setting `--trainer-memory-limit`, env
 * `DFIT_TRAINER_MEMORY_LIMIT`): each trainer child runs in a memory cgroup of its own under the
 * worker's, with the limit set, and the cgroup is removed when the child exits. cgroup v2 is used
 * where the worker's cgroup has the memory controller (`memory.max`), else cgroup v1's memory
 * hierarchy (`memory.limit_in_bytes`). A child over its limit is killed by the kernel's OOM killer:
 * for the worker that is a crashed trainer (`TrainerCrashedError`, resumed from the newest durable
 * checkpoint), whose message says the limit killed it when the cgroup counted an OOM kill.
 *
 * With no writable memory cgroup the setting is refused when the worker starts, never ignored.
 */
import fs from 'node:fs';
import path from 'node:path';
import { formatBytes } from '../config/byte-size';
import type { FailureKind } from '../failure-kind';

/** Where this process's cgroups are and how to read them (a fake folder in tests). */
export interface CgroupSystem {
  /** The cgroup file systems' mount point. @default '/sys/fs/cgroup' */
  root: string;
  /** The text of /proc/self/cgroup. @default read from /proc/self/cgroup */
  selfCgroup: string;
  /** This process's id, in the names of the cgroups it makes. @default process.pid */
  pid: number;
  /** Whether a process is alive (leftover cgroups of dead workers are removed). */
  isAlive(pid: number): boolean;
}

/** The cgroup under which trainer cgroups are made. */
export interface CgroupParent {
  version: 1 | 2;
  dir: string;
}

/** The cap could not be put in place: the worker refuses to start with the setting. */
export class MemoryCapUnavailableError extends Error {
  /** A worker configuration to change, not a fault to retry. */
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'MemoryCapUnavailableError';
  constructor(limitBytes: number, problem: string) {
    super(
      `the trainer memory limit (${formatBytes(limitBytes)}, --trainer-memory-limit / ` +
        `DFIT_TRAINER_MEMORY_LIMIT) needs a writable memory cgroup, and ${problem}. Run the worker ` +
        'as root on a host with the cgroup memory controller, or in a delegated cgroup v2 subtree ' +
        '(e.g. systemd-run --scope -p Delegate=yes), or leave the limit unset',
    );
  }
}

/** What a trainer's cgroup counted. */
export interface CgroupUsage {
  /** Most memory charged at once (v1 memory.max_usage_in_bytes, v2 memory.peak), if the kernel has it. */
  peakBytes?: number;
  /** Processes the kernel's OOM killer killed in it (v1 memory.oom_control, v2 memory.events). */
  oomKills: number;
  /** Times the limit was hit (v1 memory.failcnt, v2 memory.events `max`). */
  limitHits: number;
}

const PREFIX = 'dfit-trainer-';

export function defaultCgroupSystem(): CgroupSystem {
  let selfCgroup = '';
  try {
    selfCgroup = fs.readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    // not Linux: no cgroup found, refused below
  }
  return {
    root: '/sys/fs/cgroup',
    selfCgroup,
    pid: process.pid,
    isAlive(pid) {
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EPERM';
      }
    },
  };
}

/**
 * The folder trainer cgroups go under: the worker's own v2 cgroup when that hierarchy has the memory
 * controller, else its cgroup in v1's memory hierarchy; a string saying why when neither exists.
 */
export function findCgroupParent(system: Pick<CgroupSystem, 'root' | 'selfCgroup'>): CgroupParent | string {
  const lines = system.selfCgroup
    .split('\n')
    .map((line) => /^(\d+):([^:]*):(.*)$/.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null);
  const unified = lines.find((m) => m[1] === '0' && m[2] === '');
  if (unified) {
    for (const mount of [system.root, path.join(system.root, 'unified')]) {
      if (controllers(path.join(mount, 'cgroup.controllers')).includes('memory'))
        return { version: 2, dir: path.join(mount, unified[3] as string) };
    }
  }
  const v1 = lines.find((m) => (m[2] as string).split(',').includes('memory'));
  if (v1) {
    const dir = path.join(system.root, 'memory', v1[3] as string);
    if (fs.existsSync(path.join(dir, 'memory.limit_in_bytes'))) return { version: 1, dir };
    return `cgroup v1's memory hierarchy has no ${dir}`;
  }
  if (lines.length === 0) return 'this process is in no cgroup (/proc/self/cgroup is empty or missing)';
  return 'no cgroup hierarchy of this process has the memory controller';
}

/** The cap of one worker: where its trainers' cgroups go and their limit. */
export class MemoryCap {
  private count = 0;

  private constructor(
    readonly parent: CgroupParent,
    readonly limitBytes: number,
    private readonly system: CgroupSystem,
  ) {}

  /**
   * Finds the parent cgroup, checks that a trainer cgroup can be made there with the limit (a probe
   * made and removed), and removes cgroups left by workers that died; throws
   * `MemoryCapUnavailableError` saying why when it cannot.
   */
  static prepare(limitBytes: number, system: CgroupSystem = defaultCgroupSystem()): MemoryCap {
    const parent = findCgroupParent(system);
    if (typeof parent === 'string') throw new MemoryCapUnavailableError(limitBytes, parent);
    try {
      if (parent.version === 2) enableMemoryController(parent.dir);
      removeLeftovers(parent.dir, system);
    } catch (err) {
      throw new MemoryCapUnavailableError(limitBytes, `${parent.dir} is not writable (${errorText(err)})`);
    }
    const cap = new MemoryCap(parent, limitBytes, system);
    let probe: TrainerCgroup | undefined;
    try {
      probe = cap.create('probe');
    } catch (err) {
      throw new MemoryCapUnavailableError(
        limitBytes,
        `a cgroup could not be made under ${parent.dir} (${errorText(err)})`,
      );
    } finally {
      probe?.removeNow();
    }
    return cap;
  }

  /** A new, empty cgroup with the limit set, for one trainer child. */
  create(tag = String(++this.count)): TrainerCgroup {
    const dir = path.join(this.parent.dir, `${PREFIX}${this.system.pid}-${tag}`);
    fs.mkdirSync(dir);
    const cgroup = new TrainerCgroup(dir, this.parent.version, this.limitBytes);
    try {
      cgroup.setLimit();
    } catch (err) {
      cgroup.removeNow();
      throw err;
    }
    return cgroup;
  }
}

/** One trainer child's cgroup. */
export class TrainerCgroup {
  constructor(
    readonly dir: string,
    readonly version: 1 | 2,
    readonly limitBytes: number,
  ) {}

  /** Moves a process (the freshly forked child) into the cgroup. */
  add(pid: number): void {
    fs.writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  usage(): CgroupUsage {
    if (this.version === 1) {
      const oom = keyValues(this.read('memory.oom_control'));
      return {
        ...optional('peakBytes', Number(this.readMaybe('memory.max_usage_in_bytes'))),
        oomKills: oom.oom_kill ?? 0,
        // memory.memsw.failcnt counts the hits when memory + swap is limited too.
        limitHits: Math.max(
          Number(this.read('memory.failcnt')) || 0,
          Number(this.readMaybe('memory.memsw.failcnt')) || 0,
        ),
      };
    }
    const events = keyValues(this.read('memory.events'));
    return {
      ...optional('peakBytes', Number(this.readMaybe('memory.peak'))), // kernel 5.19 on
      oomKills: events.oom_kill ?? 0,
      limitHits: events.max ?? 0,
    };
  }

  /** Why a child that exited was killed, when the cgroup shows its limit did it. */
  killedByLimit(): string | undefined {
    let usage: CgroupUsage;
    try {
      usage = this.usage();
    } catch {
      return undefined; // the cgroup is gone or unreadable: no claim either way
    }
    if (usage.oomKills === 0) return undefined;
    return (
      `killed by its memory limit of ${formatBytes(this.limitBytes)} (the kernel's OOM killer, ` +
      `${usage.oomKills} kill(s) in cgroup ${this.dir}); raise --trainer-memory-limit ` +
      '(DFIT_TRAINER_MEMORY_LIMIT) or make the task hold less (a smaller dataset window, shards or batch)'
    );
  }

  /**
   * Removes the cgroup once its processes are gone (the kernel may still be tearing the child down
   * right after its exit: retried for up to `timeoutMs`).
   */
  async remove(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        this.removeNow();
        return;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** rmdir (a cgroup folder's control files go with it); gone already is fine. */
  removeNow(): void {
    try {
      fs.rmdirSync(this.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // A fake cgroup (a plain folder in tests) holds its files: remove them too.
      if (code === 'ENOTEMPTY' && !onCgroupFs(this.dir)) fs.rmSync(this.dir, { recursive: true });
      else throw err;
    }
  }

  setLimit(): void {
    if (this.version === 2) {
      fs.writeFileSync(path.join(this.dir, 'memory.max'), String(this.limitBytes));
      // Without swap the limit is the limit; where the kernel has no such file, nothing to do.
      writeIfPresent(path.join(this.dir, 'memory.swap.max'), '0');
      return;
    }
    fs.writeFileSync(path.join(this.dir, 'memory.limit_in_bytes'), String(this.limitBytes));
    // memory + swap at the same limit: no swapping past it (only where swap accounting is on).
    writeIfPresent(path.join(this.dir, 'memory.memsw.limit_in_bytes'), String(this.limitBytes));
  }

  private read(file: string): string {
    return fs.readFileSync(path.join(this.dir, file), 'utf8');
  }

  private readMaybe(file: string): string {
    try {
      return this.read(file);
    } catch {
      return '';
    }
  }
}

/** cgroup v2: children get the memory controller only when the parent delegates it. */
function enableMemoryController(dir: string): void {
  const file = path.join(dir, 'cgroup.subtree_control');
  if (controllers(file).includes('memory')) return;
  fs.writeFileSync(file, '+memory');
}

/** Empty cgroups this module made for workers that are no longer alive (a SIGKILLed worker's). */
function removeLeftovers(dir: string, system: CgroupSystem): void {
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (!pid || pid === system.pid || system.isAlive(pid)) continue;
    try {
      new TrainerCgroup(path.join(dir, name), 1, 0).removeNow();
    } catch {
      // still has a process (an orphaned trainer): left alone
    }
  }
}

function controllers(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').trim().split(/\s+/);
  } catch {
    return [];
  }
}

function keyValues(text: string): Record<string, number> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter((parts) => parts.length === 2)
      .map(([key, value]) => [key as string, Number(value)]),
  );
}

function optional(key: 'peakBytes', value: number): { peakBytes?: number } {
  return Number.isFinite(value) && value > 0 ? { [key]: value } : {};
}

/** A swap setting: written where the kernel has it; a kernel without swap accounting refuses it. */
function writeIfPresent(file: string, value: string): void {
  if (!fs.existsSync(file)) return;
  try {
    fs.writeFileSync(file, value);
  } catch {
    // no swap accounting: the memory limit alone applies
  }
}

/** cgroup v1 and v2 file system magic numbers (statfs f_type). */
const CGROUP_FS_TYPES = new Set([0x27e0eb, 0x63677270]);

function onCgroupFs(dir: string): boolean {
  try {
    return CGROUP_FS_TYPES.has(fs.statfsSync(dir).type);
  } catch {
    return false;
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
