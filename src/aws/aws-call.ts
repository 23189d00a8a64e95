import type { Logger } from '../shared/logger.ts';
import { buildResultLabel, classifyAwsError, type AwsCallContext, type ClassifyOptions } from './aws-errors.ts';
import type { AwsCallResult, AwsMetrics } from './aws-metrics.ts';
import type { CallBudget } from './call-budget.ts';

/**
 * How one AWS call is sent: every HTTP attempt the SDK makes (its own retries included) first takes a
 * token from the process-wide budget, is timed, counted in piggy_aws_calls_total and, when throttled,
 * lowers the budget's rate. The hook sits inside the SDK's retry loop (just before request signing),
 * so SDK retries never multiply calls invisibly: they wait for the budget like any call and show in
 * the metrics. The final error is classified into an AppError at this boundary.
 */

type AttemptHandler = (args: unknown) => Promise<unknown>;

/**
 * Any SDK command: its middleware stack takes the attempt hook for this one call. (The SDK's own
 * middleware types come from @smithy/types, which is not a dependency of ours; the hook only passes
 * `args` through, so it is typed loosely and handed over as `never`.)
 */
export interface HookableCommand {
  readonly middlewareStack: {
    addRelativeTo(
      middleware: never,
      options: { relation: 'before' | 'after'; toMiddleware: string; name?: string; override?: boolean },
    ): void;
  };
}

export interface SendOptions {
  readonly abortSignal: AbortSignal;
}

export interface AwsCaller {
  /**
   * Sends `command` through `send` (which must send that same command object). Resolves with the
   * SDK's output; rejects with an AppError from classifyAwsError. `refine` may settle what the raw
   * error means before it is classified (e.g. a DescribeSecret follow-up on a not-found answer).
   */
  call<O>(
    context: AwsCallContext,
    command: HookableCommand,
    send: (options: SendOptions) => Promise<O>,
    refine?: (error: unknown) => Promise<ClassifyOptions | undefined>,
  ): Promise<O>;
}

export interface AwsCallerOptions {
  readonly budget: CallBudget;
  readonly metrics?: AwsMetrics | undefined;
  readonly log: Logger;
  /** Aborts budget waits and requests in flight (process shutdown). */
  readonly signal?: AbortSignal | undefined;
  /** Longest wait for one attempt's answer (budget wait excluded); 0 = no limit. */
  readonly callTimeoutMs: number;
}

/** The SDK step our hook is placed before: inside the retry loop, before the request is signed. */
const HOOK_BEFORE = 'httpSigningMiddleware';

function buildTimeoutError(ms: number): Error {
  const error = new Error(`no answer within ${ms} ms`);
  error.name = 'TimeoutError';
  return error;
}

interface CallState {
  timedOut: boolean;
  attempt: number;
}

/** The per-attempt hook: budget token, timeout, metrics, AIMD feedback, one debug line. */
function buildAttemptHook(options: AwsCallerOptions, context: AwsCallContext, state: CallState, timeout: AbortController) {
  const { budget, metrics, log, signal, callTimeoutMs } = options;
  return (next: AttemptHandler): AttemptHandler =>
    async (args) => {
      await budget.acquire(signal);
      state.attempt += 1;
      const started = performance.now();
      const onTimeout = (): void => {
        state.timedOut = true;
        timeout.abort(buildTimeoutError(callTimeoutMs));
      };
      const timer = callTimeoutMs > 0 ? setTimeout(onTimeout, callTimeoutMs) : undefined;
      const finish = (result: AwsCallResult): void => {
        const seconds = (performance.now() - started) / 1000;
        metrics?.recordCall(context.api, result, seconds);
        log.debug({ ...context, attempt: state.attempt, result, durationMs: Math.round(seconds * 1000) }, 'aws call');
      };
      try {
        const output = await next(args);
        budget.recordSuccess();
        finish('ok');
        return output;
      } catch (error) {
        const raw = state.timedOut ? buildTimeoutError(callTimeoutMs) : error;
        const result = buildResultLabel(classifyAwsError(raw, context).code);
        if (result === 'throttled') {
          budget.recordThrottle();
          metrics?.recordThrottled();
        }
        finish(result);
        throw error;
      } finally {
        clearTimeout(timer);
      }
    };
}

export function createAwsCaller(options: AwsCallerOptions): AwsCaller {
  return {
    async call(context, command, send, refine) {
      const timeout = new AbortController();
      const abortSignal = options.signal === undefined ? timeout.signal : AbortSignal.any([options.signal, timeout.signal]);
      const state: CallState = { timedOut: false, attempt: 0 };
      command.middlewareStack.addRelativeTo(buildAttemptHook(options, context, state, timeout) as never, {
        relation: 'before',
        toMiddleware: HOOK_BEFORE,
        name: 'piggyAwsAttempt',
        override: true,
      });
      try {
        return await send({ abortSignal });
      } catch (error) {
        const raw = state.timedOut ? buildTimeoutError(options.callTimeoutMs) : error;
        throw classifyAwsError(raw, context, (await refine?.(raw)) ?? {});
      }
    },
  };
}
