/**
 * The launcher's error codes (README table) and its exit statuses. Messages that carry these codes
 * name variables, keys, paths and secret ids, never values.
 */
export const ENV_ERRORS = {
  /** Bad command line (no `--`, nothing after it, unknown flag, missing install dir). */
  usage: 'ERR_ENV_USAGE',
  /** A PIGGY_* variable the chosen mode needs is missing or malformed. */
  config: 'ERR_ENV_CONFIG',
  /** The proxy could not be reached, timed out, or answered 429/5xx (retried). */
  proxyUnavailable: 'ERR_ENV_PROXY_UNAVAILABLE',
  /** TLS verification or handshake failed (untrusted certificate, wrong name, plain HTTP); not retried. */
  tls: 'ERR_ENV_TLS',
  /** The proxy refused the request (400/401/403/404 and other 4xx; not retried). */
  proxyRefused: 'ERR_ENV_PROXY_REFUSED',
  /** The proxy answered 200 with something that is not a JSON object of strings. */
  proxyResponse: 'ERR_ENV_PROXY_RESPONSE',
  /** No AWS credentials (env keys, IRSA web identity or container credentials) could be obtained. */
  awsCredentials: 'ERR_ENV_AWS_CREDENTIALS',
  /** An AWS call failed (the AWS error code is in the message). */
  aws: 'ERR_ENV_AWS',
  /** The secret's value cannot be used as environment values (binary, not a JSON object). */
  secretFormat: 'ERR_ENV_SECRET_FORMAT',
  /** `piggy:` references left unresolved (the variable names are listed). */
  unresolved: 'ERR_ENV_UNRESOLVED',
  /** The program to exec does not exist (exit 127). */
  programNotFound: 'ERR_ENV_PROGRAM_NOT_FOUND',
  /** The program exists but cannot be executed (exit 126). */
  programNotExecutable: 'ERR_ENV_PROGRAM_NOT_EXECUTABLE',
  /** `install` could not copy the launcher. */
  install: 'ERR_ENV_INSTALL',
  /** `write-files` could not write a file. */
  writeFile: 'ERR_ENV_WRITE_FILE',
} as const;

export const EXIT = {
  failure: 1,
  usage: 2,
  notExecutable: 126,
  notFound: 127,
} as const;
