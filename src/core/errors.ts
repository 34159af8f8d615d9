/** The fixed set of result codes shared by every layer and by the UI protocols. */
export type ResultCode =
  'not_found' | 'version_conflict' | 'validation' | 'busy' | 'internal' | 'unauthorized' | 'closed';

/** Base of every Twinspace error: carries a stable `code` that callers switch on. */
export class TwinspaceError extends Error {
  constructor(
    readonly code: ResultCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TwinspaceError';
  }
}

export type Result<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: ResultCode; readonly message: string };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: ResultCode, message: string): Result<T> {
  return { ok: false, code, message };
}

/** A readable message from anything thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
