import { AppError } from '../shared/errors.ts';

/** The HTTP status of a Kubernetes API error, if it is one. */
export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown; statusCode?: unknown }).code ?? (error as { statusCode?: unknown }).statusCode;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (error: unknown): boolean => statusOf(error) === 404;
export const isConflict = (error: unknown): boolean => statusOf(error) === 409;

/** The API server's own reason text (a Status message), which never carries Secret data. */
function serverMessage(error: unknown): string {
  const body = (error as { body?: unknown }).body;
  const parsed: unknown = typeof body === 'string' ? safeParse(body) : body;
  const message = (parsed as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : '';
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Classifies a Kubernetes API failure at the boundary: conflicts, throttling, timeouts, server
 * errors and network failures are transient; everything else is terminal.
 */
export function classifyKubeError(error: unknown, action: string, object: string): AppError {
  const status = statusOf(error);
  const transient = status === undefined || status === 409 || status === 410 || status === 429 || status >= 500;
  const detail = serverMessage(error);
  return new AppError(
    status === 403 ? 'ERR_KUBE_FORBIDDEN' : transient ? 'ERR_KUBE_UNAVAILABLE' : 'ERR_KUBE_REQUEST',
    `kubernetes ${action} ${object} failed${status === undefined ? '' : ` (HTTP ${status})`}${detail === '' ? '' : `: ${detail}`}`,
    { kind: transient ? 'transient' : 'terminal', cause: error, details: { action, object, status } },
  );
}
