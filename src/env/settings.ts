/**
 * The launcher's own settings, from its flags (before `--`) and its PIGGY_* environment. Pure.
 * Piggy's precedence: a PIGGY_* variable that is set wins over the flag. Bad tuning values
 * (retries, delay, DNS) never stop the app: they fall back to the default with a warning.
 */
import { parseBoolean, parseDuration } from '../config/parse.ts';
import { AUTOMOUNTED_TOKEN_FILE, LAUNCHER_ENV, LAUNCHER_ENV_NAMES } from '../shared/injection-contract.ts';

export type Env = Readonly<Record<string, string | undefined>>;
export type LauncherMode = 'proxy' | 'standalone';

/** Variables only the launcher reads, beyond the webhook contract (also removed from the app's env). */
export const LAUNCHER_EXTRA_ENV = {
  /** KongZ/piggy's standalone version variable: a VersionId (UUID) or a stage label. */
  legacySecretVersion: 'PIGGY_AWS_SECRET_VERSION',
} as const;

/** Every variable removed from the app's environment. */
export const CONTROL_ENV_NAMES: ReadonlySet<string> = new Set<string>([...LAUNCHER_ENV_NAMES, ...Object.values(LAUNCHER_EXTRA_ENV)]);

export const DEFAULT_TOKEN_FILE = AUTOMOUNTED_TOKEN_FILE;
export const MAX_ATTEMPTS = 100;
export const MAX_INITIAL_DELAY_MS = 3_600_000;

export interface LauncherSettings {
  readonly mode: LauncherMode;
  readonly debug: boolean;
  readonly ignoreNoEnv: boolean;
  /** Total attempts (>= 1). */
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly tokenFile: string;
}

export interface LauncherFlags {
  readonly standalone: boolean;
  readonly retry: string | undefined;
  readonly initialDelay: string | undefined;
}

export type FlagsResult = { readonly ok: true; readonly flags: LauncherFlags } | { readonly ok: false; readonly error: string };

/** `--standalone`, `--retry N`, `--initial-delay D` (also `--flag=value`), as Piggy accepts them. */
export function parseLauncherFlags(args: readonly string[]): FlagsResult {
  let standalone = false;
  let retry: string | undefined;
  let initialDelay: string | undefined;
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (name === '--standalone' && inline === undefined) {
      standalone = true;
      continue;
    }
    if (name !== '--retry' && name !== '--initial-delay') return { ok: false, error: `unknown flag ${JSON.stringify(arg)}` };
    const value = inline ?? args[index + 1];
    if (value === undefined) return { ok: false, error: `${name} needs a value` };
    if (inline === undefined) index += 1;
    if (name === '--retry') retry = value;
    else initialDelay = value;
  }
  return { ok: true, flags: { standalone, retry, initialDelay } };
}

function readBoolean(env: Env, name: string, warnings: string[]): boolean | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const parsed = parseBoolean(text);
  if (parsed.ok) return parsed.value;
  warnings.push(`${name} is not a boolean; ignored`);
  return undefined;
}

function readAttempts(text: string | undefined, source: string, warnings: string[]): number {
  if (text === undefined || text === '') return 1;
  const trimmed = text.trim();
  const value = Number(trimmed);
  if (/^\d+$/.test(trimmed) && value >= 1 && value <= MAX_ATTEMPTS) return value;
  warnings.push(`${source} must be an integer between 1 and ${MAX_ATTEMPTS}; using 1`);
  return 1;
}

function readDelay(text: string | undefined, source: string, warnings: string[]): number {
  if (text === undefined || text === '' || /^0+$/.test(text.trim())) return 0;
  const parsed = parseDuration(text);
  if (parsed.ok && parsed.value <= MAX_INITIAL_DELAY_MS) return parsed.value;
  warnings.push(`${source} must be a duration such as 2s or 1m30s, at most 1h; using 0`);
  return 0;
}

export function buildLauncherSettings(env: Env, flags: LauncherFlags): { readonly settings: LauncherSettings; readonly warnings: readonly string[] } {
  const warnings: string[] = [];
  const standalone = readBoolean(env, LAUNCHER_ENV.standalone, warnings) ?? flags.standalone;
  const retryText = env[LAUNCHER_ENV.numberOfRetry] ?? flags.retry;
  const delayText = env[LAUNCHER_ENV.initialDelay] ?? flags.initialDelay;
  const settings: LauncherSettings = {
    mode: standalone ? 'standalone' : 'proxy',
    debug: readBoolean(env, LAUNCHER_ENV.debug, warnings) ?? false,
    ignoreNoEnv: readBoolean(env, LAUNCHER_ENV.ignoreNoEnv, warnings) ?? false,
    attempts: readAttempts(retryText, env[LAUNCHER_ENV.numberOfRetry] === undefined ? '--retry' : LAUNCHER_ENV.numberOfRetry, warnings),
    initialDelayMs: readDelay(delayText, env[LAUNCHER_ENV.initialDelay] === undefined ? '--initial-delay' : LAUNCHER_ENV.initialDelay, warnings),
    tokenFile: env[LAUNCHER_ENV.tokenFile] || DEFAULT_TOKEN_FILE,
  };
  return { settings, warnings };
}
