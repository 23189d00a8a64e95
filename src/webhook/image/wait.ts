import { IMAGE_ERRORS, RegistryError } from './errors.ts';

/** Waits for a shared load, but gives up when this caller's own budget or signal ends. */
export function waitFor<T>(promise: Promise<T>, wait: AbortSignal, callerSignal: AbortSignal | undefined, budgetMs: number): Promise<T> {
  const abortError = (): RegistryError =>
    callerSignal?.aborted === true
      ? new RegistryError(IMAGE_ERRORS.unreachable, 'the admission gave up waiting for the registry', { cause: callerSignal.reason })
      : new RegistryError(IMAGE_ERRORS.unreachable, `the registry did not answer within the ${budgetMs} ms allowed to read the image`);
  if (wait.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError());
    wait.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        wait.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        wait.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
