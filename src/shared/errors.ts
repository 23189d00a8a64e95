/** Whether retrying the same operation later can succeed. */
export type ErrorKind = 'transient' | 'terminal';

export interface AppErrorOptions {
  readonly kind?: ErrorKind;
  readonly cause?: unknown;
  /** Safe, value-free facts for logs (names, ids, counts; never secret values). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * The one error base of piggy: a stable `code` (ERR_<AREA>_<WHAT>, listed in the README), a kind,
 * and a cause. Messages never contain secret values.
 */
export class AppError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.kind = options.kind ?? 'terminal';
    this.details = options.details ?? {};
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

export function isTransient(error: unknown): boolean {
  return isAppError(error) && error.kind === 'transient';
}

/** A message for any thrown value; never includes anything but the error's own message. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
