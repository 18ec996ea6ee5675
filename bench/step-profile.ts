/**
 * The instrument of bench/profile-step.ts: times tfjs-node's addon calls per TF op while a step runs
 * and splits the step into phases (input, forward, loss, backward, optimizer, cleanup) by hooks on
 * the model's forward pass, the loss and the optimizer update; backward is what lies between the
 * loss and the update (the tape's gradients). Whatever a phase spends outside the addon is JS.
 */
import type { TrainingSession } from '../src/training/session';
import { getTask } from '../src/training/tasks';
import { overrideBinding } from './eager-levers';

interface Tally {
  calls: number;
  /** Wall time inside the call. */
  us: number;
  /** Process CPU time (all threads) inside the call: what the op cost, less what other load took. */
  cpuUs: number;
}
const PHASES = ['input', 'forward', 'loss', 'backward', 'optimizer', 'cleanup'] as const;
type Phase = (typeof PHASES)[number];
const OTHER_CALLS = ['createTensor', 'tensorDataSync', 'deleteTensor'] as const;

/** What the wrapped addon saw over the profiled steps. */
export class StepProfile {
  active = false;
  steps = 0;
  stepUs = 0;
  stepCpuUs = 0;
  readonly ops = new Map<string, Tally>();
  /** The same per `<phase> <op>`: which Adds are bias adds (forward) and which Adam's (optimizer). */
  readonly opsByPhase = new Map<string, Tally>();
  readonly other = Object.fromEntries(OTHER_CALLS.map((c) => [c, { calls: 0, us: 0, cpuUs: 0 }])) as Record<
    (typeof OTHER_CALLS)[number],
    Tally
  >;
  readonly phases = Object.fromEntries(PHASES.map((p) => [p, { wallUs: 0, addonUs: 0, ops: 0 }])) as Record<
    Phase,
    { wallUs: number; addonUs: number; ops: number }
  >;
  private phase: Phase = 'input';
  private since = 0;

  enter(phase: Phase, now = performance.now()): void {
    if (!this.active) return;
    this.phases[this.phase].wallUs += (now - this.since) * 1000;
    this.phase = phase;
    this.since = now;
  }

  record(table: Map<string, Tally> | Tally, name: string, us: number, cpuUs: number): void {
    if (table instanceof Map) {
      addTo(table, name, us, cpuUs);
      addTo(this.opsByPhase, `${this.phase} ${name}`, us, cpuUs);
      this.phases[this.phase].ops += 1;
    } else Object.assign(table, { calls: table.calls + 1, us: table.us + us, cpuUs: table.cpuUs + cpuUs });
    this.phases[this.phase].addonUs += us;
  }

  /** Runs `session.step()` as one profiled step. */
  step(session: TrainingSession): void {
    this.active = true;
    const [start, cpu] = [performance.now(), process.cpuUsage()];
    this.phase = 'input';
    this.since = start;
    session.step();
    const end = performance.now();
    const used = process.cpuUsage(cpu);
    this.enter('input', end);
    this.active = false;
    this.steps += 1;
    this.stepUs += (end - start) * 1000;
    this.stepCpuUs += used.user + used.system;
  }
}

function addTo(table: Map<string, Tally>, key: string, us: number, cpuUs: number): void {
  const tally = table.get(key);
  if (!tally) table.set(key, { calls: 1, us, cpuUs });
  else Object.assign(tally, { calls: tally.calls + 1, us: tally.us + us, cpuUs: tally.cpuUs + cpuUs });
}

type Fn = (...a: unknown[]) => unknown;
type Target = (args: unknown[]) => [Map<string, Tally> | Tally, string];

/** `fn` timed into `profile` while it is active. CPU is read outside the wall window, wall inside. */
function timedCall(profile: StepProfile, target: Target, fn: Fn, self: unknown): Fn {
  return (...args) => {
    if (!profile.active) return fn.apply(self, args);
    const cpu = process.cpuUsage();
    const start = performance.now();
    const out = fn.apply(self, args);
    const us = (performance.now() - start) * 1000;
    const used = process.cpuUsage(cpu);
    profile.record(...target(args), us, used.user + used.system);
    return out;
  };
}

/** The wrapper's own wall time per call, outside the window it records (subtracted from the JS time). */
export function calibrateWrapper(calls = 20_000): number {
  const scratch = new StepProfile();
  scratch.active = true;
  const probe = timedCall(
    scratch,
    () => [scratch.other.deleteTensor, 'probe'],
    () => undefined,
    null,
  );
  const start = performance.now();
  for (let i = 0; i < calls; i++) probe(i);
  const total = (performance.now() - start) * 1000;
  return (total - scratch.other.deleteTensor.us) / calls;
}

/** Times the addon's calls (wall and CPU) while `profile.active`; returns the undo. */
export function wrapBinding(profile: StepProfile): () => void {
  return overrideBinding((original) => {
    const lookup = original as unknown as Record<string, Fn>;
    const overrides: Record<string, Fn> = {
      executeOp: timedCall(
        profile,
        (args) => [profile.ops, String(args[0])],
        lookup.executeOp as Fn,
        original,
      ),
    };
    for (const call of OTHER_CALLS)
      overrides[call] = timedCall(profile, () => [profile.other[call], call], lookup[call] as Fn, original);
    return overrides;
  });
}

type Around = <A extends unknown[], R>(fn: (...a: A) => R, during: Phase, after: Phase) => (...a: A) => R;
const around =
  (profile: StepProfile): Around =>
  (fn, during, after) =>
  (...args) => {
    profile.enter(during);
    const out = fn(...args);
    profile.enter(after);
    return out;
  };

/**
 * Marks the phases: the model's forward pass, the loss, the optimizer update; backward is between.
 * The loss is hooked on the registry's task, before any session takes it.
 */
export function hookLoss(task: string, profile: StepProfile): void {
  const definition = getTask(task);
  definition.loss = around(profile)(definition.loss, 'loss', 'backward');
}

export function hookPhases(session: TrainingSession, profile: StepProfile): void {
  const { model, optimizer } = session.parts;
  model.apply = around(profile)(model.apply.bind(model), 'forward', 'backward');
  optimizer.applyGradients = around(profile)(
    optimizer.applyGradients.bind(optimizer),
    'optimizer',
    'cleanup',
  );
}

const fmt = (x: number, digits = 1) => x.toFixed(digits).padStart(10);

export function printProfile(profile: StepProfile, top: number, wrapperUsPerCall: number): void {
  const per = (us: number) => us / profile.steps;
  const ops = [...profile.ops.entries()].sort((a, b) => b[1].us - a[1].us);
  const sum = (list: [string, Tally][], k: keyof Tally) => list.reduce((s, [, t]) => s + t[k], 0);
  const opUs = sum(ops, 'us');
  const row = (label: string, t: Tally, share = '') =>
    console.log(
      `${label.padEnd(30)}${fmt(per(t.calls))} ${fmt(per(t.us))} ${fmt(per(t.cpuUs))} ${share.padStart(7)} ` +
        fmt(t.us / t.calls),
    );
  console.log(`\n${'TF op (executeOp)'.padEnd(30)} calls/step    µs/step CPU µs/step   share   µs/call`);
  for (const [name, t] of ops.slice(0, top)) row(name, t, `${((100 * t.us) / opUs).toFixed(1)}%`);
  const total = (list: [string, Tally][]) => ({
    calls: sum(list, 'calls'),
    us: sum(list, 'us'),
    cpuUs: sum(list, 'cpuUs'),
  });
  if (ops.length > top) row(`(${ops.length - top} other)`, total(ops.slice(top)));
  row('all executeOp', total(ops));
  for (const call of OTHER_CALLS) row(call, profile.other[call]);
  console.log(`\n${'phase'.padEnd(12)}  ops/step  wall µs  addon µs     JS µs`);
  for (const phase of PHASES) {
    const p = profile.phases[phase];
    const cols = [per(p.ops), per(p.wallUs), per(p.addonUs), per(p.wallUs - p.addonUs)];
    console.log(`${phase.padEnd(12)}${cols.map((x) => fmt(x, 0)).join('')}`);
  }
  const addonUs = Object.values(profile.phases).reduce((s, p) => s + p.addonUs, 0);
  const calls = sum(ops, 'calls') + OTHER_CALLS.reduce((s, c) => s + profile.other[c].calls, 0);
  const wrapperUs = calls * wrapperUsPerCall;
  console.log(
    `step ${per(profile.stepUs).toFixed(0)} µs, ${per(profile.stepCpuUs).toFixed(0)} CPU µs (profiled): ` +
      `executeOp ${per(opUs).toFixed(0)} µs, other addon calls ${per(addonUs - opUs).toFixed(0)} µs, ` +
      `JS outside the addon ${per(profile.stepUs - addonUs - wrapperUs).toFixed(0)} µs ` +
      `(the wrapper's own ${per(wrapperUs).toFixed(0)} µs, ${wrapperUsPerCall.toFixed(2)} µs a call, taken out)`,
  );
}
