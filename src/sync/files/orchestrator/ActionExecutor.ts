import type { ExecutionHaltCode, FileAction } from '../../../core/files/plan';

/** What the journal records before an action runs, so recovery can finish or undo it. */
export interface PreparedAction {
  /** The temp file the action will create (a plan path in the target's directory). */
  readonly temp?: string;
  /** Hash the target will have once the action is done (writes, conflict copies, renames). */
  readonly intendedHash?: string;
}

export type ActionOutcome =
  | { readonly status: 'completed' }
  | { readonly status: 'would_apply'; readonly message: string }
  | { readonly status: 'halted'; readonly code: ExecutionHaltCode; readonly message: string };

/**
 * Runs one action. `prepare` is synchronous and touches nothing; `execute` checks the disk and
 * either changes it (wet) or only says what it would do (dry). Neither throws for a refusal: a
 * refusal is a `halted` outcome with a code.
 */
export interface ActionExecutor {
  readonly wet: boolean;
  prepare(action: FileAction): PreparedAction;
  execute(action: FileAction, prepared: PreparedAction): Promise<ActionOutcome>;
}
