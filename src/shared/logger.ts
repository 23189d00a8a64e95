import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths that may carry secret material. pino replaces them with "[redacted]" wherever they
 * appear, so a careless `log.info({ secret })` cannot leak a value.
 */
export const REDACT_PATHS: readonly string[] = [
  'value',
  '*.value',
  'values',
  '*.values',
  'secretString',
  '*.secretString',
  'SecretString',
  '*.SecretString',
  'SecretBinary',
  '*.SecretBinary',
  'secretBinary',
  '*.secretBinary',
  'data',
  '*.data',
  'stringData',
  '*.stringData',
  'token',
  '*.token',
  'password',
  '*.password',
  'headers.authorization',
  'headers["x-token"]',
  'req.headers.authorization',
  'req.headers["x-token"]',
  'req.headers.cookie',
];

export interface LoggerOptions {
  readonly level: LevelWithSilent;
  readonly name?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to read real log output. */
  readonly destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const config = {
    level: options.level,
    base: { name: options.name ?? 'piggy' },
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return options.destination === undefined
    ? pino(config)
    : pino(config, options.destination as pino.DestinationStream);
}
