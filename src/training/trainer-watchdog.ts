/**
 * Tells a hung trainer child from a busy one. The activity heartbeats on a timer, so the server no
 * longer notices a trainer that stops making progress; this watchdog does instead. A training child
 * always burns CPU (a long synchronous batch, validation, a native kernel), so "no CPU time used and
 * no message sent for `hangTimeoutMs` while a run is active" means stopped (SIGSTOP, a debugger),
 * deadlocked or starved — and the caller kills it, which the run then recovers from like a crash.
 */
import fs from 'node:fs';

export interface TrainerWatchdogOptions {
  pid: number;
  /** Time without CPU use or messages, while busy, after which the child counts as hung. */
  hangTimeoutMs: number;
  /** True while the child is expected to work (starting up or running a job). */
  isBusy(): boolean;
  /** Called once when the child is found hung; the caller kills it. */
  onHung(detail: string): void;
  /** How often to look. @default 1000 */
  intervalMs?: number;
}

export interface TrainerWatchdog {
  /** The child sent something: it is alive. */
  touch(): void;
  stop(): void;
}

/** CPU ticks (user + system, all threads) and the scheduler state of a process, from /proc. */
export function readProcessCpu(pid: number): { ticks: number; state: string } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return { ticks: utime + stime, state: fields[0] ?? '?' };
  } catch {
    return undefined; // no /proc (not Linux) or the process is gone
  }
}

export function watchTrainer(options: TrainerWatchdogOptions): TrainerWatchdog {
  const { pid, hangTimeoutMs } = options;
  let lastActive = Date.now();
  let lastTicks = -1;
  let wasBusy = false;
  let fired = false;
  const check = () => {
    const cpu = readProcessCpu(pid);
    const busy = options.isBusy();
    // Without /proc there is no way to tell a long batch from a hang: never kill on a guess. The
    // hang clock starts at the first look that finds the child busy, never at the last idle look:
    // a job handed over just before a tick must get its full `hangTimeoutMs`.
    const justBusy = busy && !wasBusy;
    wasBusy = busy;
    if (!cpu || !busy || justBusy || cpu.ticks !== lastTicks) {
      lastActive = Date.now();
      lastTicks = cpu?.ticks ?? -1;
      return;
    }
    const stalled = Date.now() - lastActive;
    if (stalled < hangTimeoutMs || fired) return;
    fired = true;
    const state = cpu.state === 'T' || cpu.state === 't' ? ', process state T: stopped' : '';
    options.onHung(`used no CPU time and sent nothing for ${(stalled / 1000).toFixed(1)} s${state}`);
  };
  const timer = setInterval(check, options.intervalMs ?? 1000);
  timer.unref();
  return {
    touch() {
      lastActive = Date.now();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
