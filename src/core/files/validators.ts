/**
 * Validators over a plan and a description of the folder it will run in (pure).
 *
 * Each action is checked on its own and either accepted or rejected with one or more violations,
 * each with a stable `code` and a readable message. A rejected action is halted and reported; the
 * accepted ones still run. Checks:
 *  - every path the action names is a safe canonical relative path (see pathSafety.ts: no `..`,
 *    no absolute path, no empty segment, no control character, name and path length limits, and
 *    the Windows rules when `pathStyle` is 'windows');
 *  - no path is ignored (`isIgnored`: .gitignore, .twinspaceignore, defaults, our own state);
 *  - content size within `maxFileBytes`; mode only permission bits (no setuid, setgid, sticky);
 *  - nothing the action replaces, removes or moves is open with unsaved changes (`dirtyPaths`,
 *    a directory counts when it holds one);
 *  - on a case-insensitive file system, nothing the action creates differs only in case (or
 *    Unicode normalisation) from an existing path or from a path created earlier in the plan.
 * The symlink-aware containment check needs the disk and is done by the executor, at run time.
 */
import { checkRelativePath, foldPath, ancestorPaths, isSameOrInside } from './pathSafety';
import type { PathStyle, PathViolationCode } from './pathSafety';
import { actionPaths, actionTarget } from './plan';
import type { FileAction, PlannedAction } from './plan';

export type ValidationCode =
  PathViolationCode | 'ignored' | 'too_large' | 'invalid_mode' | 'dirty_editor' | 'case_collision';

export interface Violation {
  readonly code: ValidationCode;
  readonly path: string;
  readonly message: string;
}

export interface FolderRules {
  readonly pathStyle: PathStyle;
  /** The target file system folds case (macOS, Windows by default). */
  readonly caseInsensitive: boolean;
  /** Ignore rules, defaults and the extension's own state. */
  readonly isIgnored: (path: string) => boolean;
  /** Files open in an editor with unsaved changes. */
  readonly dirtyPaths: ReadonlySet<string>;
  readonly maxFileBytes: number;
  /** Paths that exist in the folder now (for case collisions); ancestors are implied. */
  readonly existingPaths?: Iterable<string>;
}

export interface RejectedAction {
  readonly planned: PlannedAction;
  readonly violations: readonly Violation[];
}

export interface PlanValidation {
  readonly accepted: readonly PlannedAction[];
  readonly rejected: readonly RejectedAction[];
}

/** Largest accepted `mode`: permission bits only. */
export const MAX_MODE = 0o777;

/** Splits `actions` into those that may run and those that must halt, in plan order. */
export function validatePlan(
  actions: readonly PlannedAction[],
  rules: FolderRules,
): PlanValidation {
  const fold = (path: string): string => foldPath(path, rules.caseInsensitive);
  const dirty = [...rules.dirtyPaths].map(fold);
  const spellings = new Map<string, string>();
  const note = (path: string): void => {
    for (const p of [...ancestorPaths(path), path]) {
      const key = fold(p);
      if (!spellings.has(key)) spellings.set(key, p);
    }
  };
  if (rules.caseInsensitive) for (const path of rules.existingPaths ?? []) note(path);

  const accepted: PlannedAction[] = [];
  const rejected: RejectedAction[] = [];
  for (const planned of actions) {
    const violations = validateAction(planned.action, rules, dirty, fold);
    if (rules.caseInsensitive && violations.length === 0) {
      const target = actionTarget(planned.action);
      if (target !== undefined) {
        const collision = caseCollision(planned.action, target, spellings, fold);
        if (collision !== undefined) {
          violations.push({
            code: 'case_collision',
            path: target,
            message: `${target} differs only in case from ${collision}, which the file system sees as the same name`,
          });
        } else note(target);
      }
    }
    if (violations.length === 0) accepted.push(planned);
    else rejected.push({ planned, violations });
  }
  return { accepted, rejected };
}

function validateAction(
  action: FileAction,
  rules: FolderRules,
  dirty: readonly string[],
  fold: (path: string) => string,
): Violation[] {
  const violations: Violation[] = [];
  const paths = actionPaths(action);
  for (const path of paths) {
    for (const v of checkRelativePath(path, rules.pathStyle)) {
      violations.push({ code: v.code, path, message: v.message });
    }
  }
  if (violations.length > 0) return violations; // the other checks assume well-formed paths
  for (const path of paths) {
    if (rules.isIgnored(path)) {
      violations.push({ code: 'ignored', path, message: `${path} is ignored in this folder` });
    }
  }
  if (action.type === 'write' || action.type === 'conflictCopy') {
    const path = action.type === 'write' ? action.path : action.copyPath;
    if (action.content.byteLength > rules.maxFileBytes) {
      violations.push({
        code: 'too_large',
        path,
        message: `${path} is ${action.content.byteLength} bytes, over the limit of ${rules.maxFileBytes}`,
      });
    }
    if (
      action.mode !== undefined &&
      !(Number.isInteger(action.mode) && action.mode >= 0 && action.mode <= MAX_MODE)
    ) {
      violations.push({
        code: 'invalid_mode',
        path,
        message: `mode ${String(action.mode)} of ${path} is not a set of permission bits`,
      });
    }
  }
  const touched: string[] =
    action.type === 'rename'
      ? [action.from, action.to]
      : action.type === 'conflictCopy'
        ? [action.copyPath]
        : [action.path];
  for (const path of touched) {
    const key = fold(path);
    const open = dirty.find((d) => isSameOrInside(key, d));
    if (open !== undefined) {
      violations.push({
        code: 'dirty_editor',
        path,
        message:
          open === key
            ? `${path} has unsaved changes in an editor`
            : `${path} holds a file with unsaved changes in an editor`,
      });
    }
  }
  return violations;
}

/** The spelling `target` (or one of its ancestors) collides with, if any. */
function caseCollision(
  action: FileAction,
  target: string,
  spellings: ReadonlyMap<string, string>,
  fold: (path: string) => string,
): string | undefined {
  for (const p of [...ancestorPaths(target), target]) {
    const seen = spellings.get(fold(p));
    if (seen === undefined || seen === p) continue;
    // A case-only rename of the path itself is fine: the file system renames it in place.
    if (action.type === 'rename' && p === target && fold(action.from) === fold(target)) continue;
    return seen;
  }
  return undefined;
}
