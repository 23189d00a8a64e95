import { AppError, type AppErrorOptions } from '../../shared/errors.ts';

/** The error codes of image resolution (listed in the README's table). */
export const IMAGE_ERRORS = {
  reference: 'ERR_IMAGE_REFERENCE',
  unauthorized: 'ERR_IMAGE_UNAUTHORIZED',
  notFound: 'ERR_IMAGE_NOT_FOUND',
  platform: 'ERR_IMAGE_PLATFORM',
  unreachable: 'ERR_IMAGE_UNREACHABLE',
  invalid: 'ERR_IMAGE_INVALID',
} as const;

export type ImageErrorCode = (typeof IMAGE_ERRORS)[keyof typeof IMAGE_ERRORS];

/**
 * Failures inside the registry client carry a reason only; the resolver prefixes the image, so every
 * message the webhook shows reads `image "<image>": <reason>`. Messages never hold credentials.
 */
export class RegistryError extends AppError {
  constructor(code: ImageErrorCode, reason: string, options: AppErrorOptions = {}) {
    super(code, reason, { kind: code === IMAGE_ERRORS.unreachable ? 'transient' : 'terminal', ...options });
    this.name = 'RegistryError';
  }
}

/** The final error for one image: `image "<image>": <reason>`, same code, kind and details. */
export function buildImageError(image: string, error: unknown): AppError {
  if (error instanceof AppError) {
    return new AppError(error.code, `image "${image}": ${error.message}`, {
      kind: error.kind,
      cause: error,
      details: { ...error.details, image },
    });
  }
  return new AppError(IMAGE_ERRORS.unreachable, `image "${image}": unexpected failure while reading the image config`, {
    kind: 'transient',
    cause: error,
    details: { image },
  });
}

/** What was tried against a registry before it refused: counts only, never credentials. */
export interface AttemptSummary {
  readonly pullSecretCredentials: number;
  readonly ecrToken: boolean;
  /** The last refusal that was not the registry's own status (token server, ECR), already value-free. */
  readonly lastRefusal?: string;
}

function describeAttempts(attempts: AttemptSummary): string {
  const n = attempts.pullSecretCredentials;
  const secrets =
    n === 0
      ? 'no pull secret has credentials for this registry'
      : `the ${n} matching credential${n === 1 ? '' : 's'} from the pull secrets ${n === 1 ? 'was' : 'were'} refused`;
  const all = attempts.ecrToken ? `${secrets}; the controller's ECR token was refused too` : secrets;
  return attempts.lastRefusal === undefined ? all : `${all} (${attempts.lastRefusal})`;
}

/** Maps an HTTP status of a registry answer to an error; `what` names the object (e.g. "manifest latest"). */
export function buildStatusError(status: number, host: string, what: string, attempts: AttemptSummary): RegistryError {
  const details = { host, status };
  if (status === 401 || status === 403) {
    return new RegistryError(IMAGE_ERRORS.unauthorized, `registry ${host} answered ${status} for the ${what}: ${describeAttempts(attempts)}`, {
      details,
    });
  }
  if (status === 404) return new RegistryError(IMAGE_ERRORS.notFound, `registry ${host} has no ${what} (404)`, { details });
  if (status === 429 || status >= 500) {
    return new RegistryError(IMAGE_ERRORS.unreachable, `registry ${host} answered ${status} for the ${what}`, { details });
  }
  return new RegistryError(IMAGE_ERRORS.invalid, `registry ${host} answered ${status} for the ${what}`, { details });
}
