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
  us: number;
}
const PHASES = ['input', 'forward', 'loss', 'backward', 'optimizer', 'cleanup'] as const;
type Phase = (typeof PHASES)[number];
const OTHER_CALLS = ['createTensor', 'tensorDataSync', 'deleteTensor'] as const;

export /** What the wrapped addon saw over the profiled steps. */
class StepProfile {
  active = false;
  steps = 0;
  stepUs = 0;
  readonly ops = new Map<string, Tally>();
  readonly other = Object.fromEntries(OTHER_CALLS.map((c) => [c, { calls: 0, us: 0 }])) as Record<
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

  record(table: Map<string, Tally> | Tally, name: string, us: number): void {
    const tally = table instanceof Map ? table.get(name) : table;
    if (tally) {
      tally.calls += 1;
      tally.us += us;
    } else if (table instanceof Map) table.set(name, { calls: 1, us });
    this.phases[this.phase].addonUs += us;
    if (table instanceof Map) this.phases[this.phase].ops += 1;
  }

  /** Runs `session.step()` as one profiled step. */
  step(session: TrainingSession): void {
    this.active = true;
    const start = performance.now();
    this.phase = 'input';
    this.since = start;
    session.step();
    const end = performance.now();
    this.enter('input', end);
    this.active = false;
    this.steps += 1;
    this.stepUs += (end - start) * 1000;
  }
}

/** Times the addon's calls while `profile.active`; returns the undo. */
export function wrapBinding(profile: StepProfile): () => void {
  return overrideBinding((original) => {
    const lookup = original as unknown as Record<string, (...a: unknown[]) => unknown>;
    const timed =
      (name: string, table: () => Map<string, Tally> | Tally, fn: (...a: unknown[]) => unknown) =>
      (...args: unknown[]) => {
        if (!profile.active) return fn.apply(original, args);
        const start = performance.now();
        const out = fn.apply(original, args);
        profile.record(table(), name, (performance.now() - start) * 1000);
        return out;
      };
    const overrides: Record<string, (...a: never[]) => unknown> = {
      executeOp: (name: string, attrs: never, inputIds: number[], numOutputs: number) => {
        if (!profile.active) return original.executeOp(name, attrs, inputIds, numOutputs);
        const start = performance.now();
        const out = original.executeOp(name, attrs, inputIds, numOutputs);
        profile.record(profile.ops, name, (performance.now() - start) * 1000);
        return out;
      },
    };
    for (const call of OTHER_CALLS)
      overrides[call] = timed(call, () => profile.other[call], lookup[call] as (...a: unknown[]) => unknown);
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

export function printProfile(profile: StepProfile, top: number): void {
  const per = (us: number) => us / profile.steps;
  const ops = [...profile.ops.entries()].sort((a, b) => b[1].us - a[1].us);
  const opUs = ops.reduce((s, [, t]) => s + t.us, 0);
  console.log(`\n${'TF op (executeOp)'.padEnd(30)} calls/step    µs/step   share   µs/call`);
  for (const [name, t] of ops.slice(0, top)) {
    const share = `${((100 * t.us) / opUs).toFixed(1)}%`.padStart(7);
    console.log(`${name.padEnd(30)}${fmt(per(t.calls))} ${fmt(per(t.us))} ${share} ${fmt(t.us / t.calls)}`);
  }
  const rest = ops.slice(top);
  const sum = (list: [string, Tally][], k: keyof Tally) => list.reduce((s, [, t]) => s + t[k], 0);
  if (rest.length)
    console.log(
      `${`(${rest.length} other)`.padEnd(30)}${fmt(per(sum(rest, 'calls')))} ${fmt(per(sum(rest, 'us')))}`,
    );
  console.log(`${'all executeOp'.padEnd(30)}${fmt(per(sum(ops, 'calls')))} ${fmt(per(opUs))}`);
  for (const call of OTHER_CALLS) {
    const t = profile.other[call];
    console.log(`${call.padEnd(30)}${fmt(per(t.calls))} ${fmt(per(t.us))}`);
  }
  console.log(`\n${'phase'.padEnd(12)}  ops/step  wall µs  addon µs     JS µs`);
  for (const phase of PHASES) {
    const p = profile.phases[phase];
    const row = [per(p.ops), per(p.wallUs), per(p.addonUs), per(p.wallUs - p.addonUs)];
    console.log(`${phase.padEnd(12)}${row.map((x) => fmt(x, 0)).join('')}`);
  }
  const addonUs = Object.values(profile.phases).reduce((s, p) => s + p.addonUs, 0);
  console.log(
    `step ${per(profile.stepUs).toFixed(0)} µs (profiled): executeOp ${per(opUs).toFixed(0)} µs, other addon calls ` +
      `${per(addonUs - opUs).toFixed(0)} µs, JS outside the addon ${per(profile.stepUs - addonUs).toFixed(0)} µs`,
  );
}
