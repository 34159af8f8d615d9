/**
 * The remote-change orchestrator for one synced folder: validates a plan, runs it through an
 * executor, journals every action, and recovers from a crash at the next open.
 *
 *   const orchestrator = await FileOrchestrator.open({ folder, stateDir });   // lock + recovery
 *   orchestrator.recovery                       // what the recovery scan found and did
 *   const preview = await orchestrator.dryRun(plan, rules);   // touches nothing
 *   const report = await orchestrator.apply(plan, rules);     // wet, journaled
 *   await orchestrator.close();                               // releases the lock
 *
 * `open` takes the per-folder lock (a second open of the same folder, in this process or another,
 * fails fast with code 'busy'; a lock whose process died is cleared), opens the journal in the
 * folder's state directory (see folderStateDir.ts), and runs the recovery scan.
 *
 * `apply`: each action is validated (validators.ts); a rejected one is journaled as ActionHalted
 * with the first violation's code and is not run; an action inside a directory whose creation
 * halted is halted as 'dependency_halted'; every other action is journaled ActionStarted, run,
 * and journaled ActionCompleted or ActionHalted. Halts never stop the run: valid actions still
 * run. A journal write failure does stop it (the error is thrown; the next open recovers).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { actionPaths, actionTarget } from '../../../core/files/plan';
import type { ExecutionHaltCode, FileAction, Plan, PlannedAction } from '../../../core/files/plan';
import { ancestorPaths, isSameOrInside } from '../../../core/files/pathSafety';
import { validatePlan } from '../../../core/files/validators';
import type { FolderRules, ValidationCode, Violation } from '../../../core/files/validators';
import { TwinspaceError, describeError } from '../../../core/errors';
import { atomicWriteFile, syncDirectory } from '../../../runtime/atomicWriteFile';
import { StateDirLock } from '../../../runtime/StateDirLock';
import type { ActionExecutor } from './ActionExecutor';
import { contentHash } from './contentHash';
import type { HashFunction } from './contentHash';
import { DryRunExecutor } from './DryRunExecutor';
import { FolderView } from './FolderView';
import { FsExecutor } from './FsExecutor';
import type { FsExecutorOptions } from './FsExecutor';
import { assertStateOutsideFolder, folderStateDir } from './folderStateDir';
import { Journal, summarizeAction } from './Journal';
import type { ActionSummary } from './Journal';
import { recoverFolder } from './recoverFolder';
import type { RecoveryReport } from './recoverFolder';

export type HaltCode = ValidationCode | ExecutionHaltCode;

export const DEFAULT_JOURNAL_ROTATE_BYTES = 8 * 1024 * 1024;
/** The journal before the last rotation. */
export const PREVIOUS_JOURNAL_FILE = 'events.1.jsonl';

export interface ActionResult {
  /** The action's id in the plan. */
  readonly id: string;
  /** The id in the journal: `<runId>/<id>`. */
  readonly actionId: string;
  readonly action: ActionSummary;
  readonly status: 'completed' | 'would_apply' | 'halted';
  readonly code?: HaltCode;
  readonly message?: string;
  /**
   * Hash of what a completed write, conflict copy or file rename left at its target (lets the
   * file watcher recognise our own writes and not echo them back as local changes).
   */
  readonly hash?: string;
  /** Every violation, when validation refused the action. */
  readonly violations?: readonly Violation[];
}

export interface ApplyReport {
  readonly runId: string;
  readonly dryRun: boolean;
  readonly results: readonly ActionResult[];
  readonly completed: number;
  readonly wouldApply: number;
  readonly halted: number;
}

export interface FileOrchestratorOptions {
  /** The synced folder. */
  readonly folder: string;
  /** The Twinspace state folder (not inside `folder`). */
  readonly stateDir: string;
  /** Time for journal records (epoch ms). Default Date.now. */
  readonly now?: () => number;
  /** Content hash, in the plan's form. Default SHA-256 hex. */
  readonly hash?: HashFunction;
  /** Told of every halted action (for the `orchestrator.action.halted` diagnostic). */
  readonly onHalted?: (result: ActionResult) => void;
  /**
   * At open, once recovery has settled everything, a journal larger than this is moved to
   * `events.1.jsonl` (replacing the previous one) and a new one is started. Default 8 MiB.
   */
  readonly journalRotateBytes?: number;
  /** Test hooks of the filesystem executor. */
  readonly executor?: FsExecutorOptions;
}

function actionsOf(plan: Plan | readonly PlannedAction[]): readonly PlannedAction[] {
  return 'actions' in plan ? plan.actions : plan;
}

export class FileOrchestrator {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly folderReal: string,
    readonly stateDir: string,
    readonly recovery: RecoveryReport,
    private readonly view: FolderView,
    private readonly journal: Journal,
    private readonly lock: StateDirLock,
    private readonly options: FileOrchestratorOptions,
  ) {}

  static async open(options: FileOrchestratorOptions): Promise<FileOrchestrator> {
    const folderReal = await fs.realpath(options.folder);
    if (!(await fs.stat(folderReal)).isDirectory()) {
      throw new TwinspaceError('validation', `${options.folder} is not a directory`);
    }
    await assertStateOutsideFolder(folderReal, options.stateDir);
    const dir = folderStateDir(options.stateDir, folderReal);
    const lock = await StateDirLock.acquire(dir);
    try {
      await atomicWriteFile(
        path.join(dir, 'folder.json'),
        `${JSON.stringify({ folder: folderReal })}\n`,
      );
      const view = new FolderView(folderReal, options.hash ?? contentHash);
      const now = options.now ?? Date.now;
      const opened = await Journal.open(dir, now);
      let journal = opened.journal;
      try {
        const { read } = opened;
        const recovery = await recoverFolder(view, journal, read.records, read.tornTail);
        // Everything is settled now: a journal past the limit starts over (one old one kept).
        const size = (await fs.stat(journal.file)).size;
        if (size > (options.journalRotateBytes ?? DEFAULT_JOURNAL_ROTATE_BYTES)) {
          await journal.close();
          await fs.rename(journal.file, path.join(dir, PREVIOUS_JOURNAL_FILE));
          await syncDirectory(dir);
          journal = (await Journal.open(dir, now)).journal;
        }
        return new FileOrchestrator(folderReal, dir, recovery, view, journal, lock, options);
      } catch (error) {
        await journal.close();
        throw error;
      }
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** Runs `plan` on the folder (wet), journaled. Calls are serialised. */
  apply(plan: Plan | readonly PlannedAction[], rules: FolderRules): Promise<ApplyReport> {
    return this.serialised(() =>
      runActions(actionsOf(plan), rules, new FsExecutor(this.view, this.options.executor ?? {}), {
        journal: this.journal,
        onHalted: this.options.onHalted,
      }),
    );
  }

  /** Says what `plan` would do, touching nothing (no journal record either). */
  dryRun(plan: Plan | readonly PlannedAction[], rules: FolderRules): Promise<ApplyReport> {
    return this.serialised(() =>
      runActions(actionsOf(plan), rules, new DryRunExecutor(this.view), {}),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    try {
      await this.journal.close();
    } finally {
      await this.lock.release();
    }
  }

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    if (this.closed) {
      return Promise.reject(new TwinspaceError('closed', 'the orchestrator is closed'));
    }
    const next = this.queue.then(task);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/**
 * A dry run without opening the orchestrator (no lock, no journal): what the first sync's
 * confirmation shows.
 */
export async function dryRunPlan(
  folder: string,
  plan: Plan | readonly PlannedAction[],
  rules: FolderRules,
  hash: HashFunction = contentHash,
): Promise<ApplyReport> {
  const view = new FolderView(await fs.realpath(folder), hash);
  return runActions(actionsOf(plan), rules, new DryRunExecutor(view), {});
}

interface RunContext {
  readonly journal?: Journal;
  readonly onHalted?: ((result: ActionResult) => void) | undefined;
}

async function runActions(
  actions: readonly PlannedAction[],
  rules: FolderRules,
  executor: ActionExecutor,
  context: RunContext,
): Promise<ApplyReport> {
  const runId = randomBytes(6).toString('hex');
  const { rejected } = validatePlan(actions, rules);
  const violationsOf = new Map(rejected.map((r) => [r.planned, r.violations]));
  const blocked: string[] = []; // directories whose creation halted
  const results: ActionResult[] = [];
  const journal = executor.wet ? context.journal : undefined;

  const halt = async (
    planned: PlannedAction,
    actionId: string,
    code: HaltCode,
    message: string,
    violations?: readonly Violation[],
  ): Promise<ActionResult> => {
    const action = summarizeAction(planned.action);
    await journal?.append({ type: 'ActionHalted', actionId, action, reason: { code, message } });
    const result: ActionResult = {
      id: planned.id,
      actionId,
      action,
      status: 'halted',
      code,
      message,
      ...(violations !== undefined ? { violations } : {}),
    };
    const target = actionTarget(planned.action);
    if (target !== undefined && createsDirectory(planned.action)) blocked.push(target);
    try {
      context.onHalted?.(result);
    } catch {
      // A throwing observer must not stop the run.
    }
    return result;
  };

  const trailing: Promise<unknown>[] = [];
  const runOne = async (planned: PlannedAction): Promise<ActionResult> => {
    const actionId = `${runId}/${planned.id}`;
    const violations = violationsOf.get(planned);
    const first = violations?.[0];
    if (violations !== undefined && first !== undefined) {
      const message = violations.map((v) => v.message).join('; ');
      return halt(planned, actionId, first.code, message, violations);
    }
    const dependency = pathsNeedingParents(planned.action).find((p) =>
      blocked.some((dir) => p !== dir && isSameOrInside(dir, p)),
    );
    if (dependency !== undefined) {
      return halt(
        planned,
        actionId,
        'dependency_halted',
        `${dependency} is in a directory that was not created`,
      );
    }
    const prepared = executor.prepare(planned.action);
    const action = summarizeAction(planned.action);
    await journal?.append({
      type: 'ActionStarted',
      actionId,
      action,
      ...(prepared.temp !== undefined ? { temp: prepared.temp } : {}),
      ...(prepared.intendedHash !== undefined ? { intendedHash: prepared.intendedHash } : {}),
    });
    let outcome;
    try {
      outcome = await executor.execute(planned.action, prepared);
    } catch (error) {
      outcome = { status: 'halted', code: 'io_error', message: describeError(error) } as const;
    }
    if (outcome.status === 'halted') {
      return halt(planned, actionId, outcome.code, outcome.message);
    }
    if (outcome.status === 'completed') {
      // Appended now, in order; its lane goes on without waiting for the fsync (a crash before
      // it leaves a dangling start, which recovery settles from the disk). The run resolves only
      // once every record is durable.
      const completed = journal?.append({ type: 'ActionCompleted', actionId, action });
      if (completed !== undefined) {
        completed.catch(() => undefined); // awaited below, with the others
        trailing.push(completed);
      }
      return {
        id: planned.id,
        actionId,
        action,
        status: 'completed',
        ...(prepared.intendedHash !== undefined ? { hash: prepared.intendedHash } : {}),
      };
    }
    return {
      id: planned.id,
      actionId,
      action,
      status: 'would_apply',
      message: outcome.message,
    };
  };

  // File writes, conflict copies and mkdirs touch one entry each: up to WRITE_CONCURRENCY of a
  // run of them are in flight at once (a new one starts as soon as one ends), so their fsyncs
  // overlap and their journal records share group commits. An action waits while another on its
  // path or on one of its parent folders is in flight (plans create parents first, so a file
  // never starts before its folder exists). Deletes and renames are barriers that run alone, in
  // plan order.
  for (let i = 0; i < actions.length;) {
    const first = actions[i];
    if (first === undefined) break;
    if (!isIndependentWrite(first.action)) {
      i++;
      results.push(await runOne(first));
      continue;
    }
    let end = i;
    while (end < actions.length && isIndependentWrite(actions[end]?.action)) end++;
    const run = actions.slice(i, end);
    i = end;
    const outcomes: ActionResult[] = new Array<ActionResult>(run.length);
    const busy = new Set<string>();
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < run.length) {
        const planned = run[next];
        if (planned === undefined) return;
        const paths = actionPaths(planned.action);
        if (paths.some((p) => busy.has(p) || ancestorPaths(p).some((a) => busy.has(a)))) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        const index = next++;
        for (const p of paths) busy.add(p);
        try {
          outcomes[index] = await runOne(planned);
        } finally {
          for (const p of paths) busy.delete(p);
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(WRITE_CONCURRENCY, run.length) }, () => lane()),
    );
    results.push(...outcomes);
  }
  await Promise.all(trailing);
  return {
    runId,
    dryRun: !executor.wet,
    results,
    completed: results.filter((r) => r.status === 'completed').length,
    wouldApply: results.filter((r) => r.status === 'would_apply').length,
    halted: results.filter((r) => r.status === 'halted').length,
  };
}

/** Writes run this many at a time (see runActions): enough to keep the disk's journal commits full. */
const WRITE_CONCURRENCY = 32;

function isIndependentWrite(action: FileAction | undefined): boolean {
  return action?.type === 'write' || action?.type === 'conflictCopy' || action?.type === 'mkdir';
}

function createsDirectory(action: FileAction): boolean {
  return action.type === 'mkdir' || action.type === 'rename';
}

function pathsNeedingParents(action: FileAction): string[] {
  switch (action.type) {
    case 'rename':
      return [action.to];
    case 'conflictCopy':
      return [action.copyPath];
    default:
      return [action.path];
  }
}
