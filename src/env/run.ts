/**
 * Env mode, `piggy-env [flags] -- cmd args…`: resolve the `piggy:` references (proxy or standalone,
 * with retries), build the app's environment, expand the template and replace the launcher with the
 * app. Every effect is a dependency, so tests drive it with fakes; cli.ts passes the real ones.
 */
import { AppError, isAppError, messageOf } from '../shared/errors.ts';
import { LAUNCHER_ENV, buildCommandSignature, buildExecArgv, splitLauncherArgv } from '../shared/injection-contract.ts';
import type { CredentialDeps } from './aws-credentials.ts';
import { ENV_ERRORS, EXIT } from './error-codes.ts';
import { planExec, type FileProbe } from './exec.ts';
import { createEnvLogger, type EnvLogger } from './log.ts';
import { fetchProxySecrets, parseProxyConfig, type ProxyFetchDeps } from './proxy-client.ts';
import { buildAppEnv, planReferences, type ReferencePlan } from './references.ts';
import { runWithRetries } from './retry.ts';
import { buildLauncherSettings, parseLauncherFlags, type Env, type LauncherSettings } from './settings.ts';
import { fetchStandaloneSecrets, parseStandaloneConfig } from './standalone.ts';

export interface RunDeps extends ProxyFetchDeps, CredentialDeps {
  readonly env: Env;
  readonly cwd: string;
  readonly random: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Milliseconds since the process started (for the start-to-exec figure in the log). */
  readonly elapsed: () => number;
  readonly probe: FileProbe;
  readonly exec: (path: string, argv: readonly string[], env: Readonly<Record<string, string>>) => never;
  readonly writeLog?: (line: string) => void;
}

function configError(problems: readonly string[]): AppError {
  return new AppError(ENV_ERRORS.config, problems.join('; '));
}

async function fetchOnce(settings: LauncherSettings, template: readonly string[], keys: readonly string[], deps: RunDeps): Promise<Record<string, string>> {
  if (settings.mode === 'standalone') {
    const parsed = parseStandaloneConfig(deps.env);
    if (!parsed.ok) throw configError(parsed.problems);
    return (await fetchStandaloneSecrets(parsed.config, deps)).values;
  }
  const parsed = parseProxyConfig(deps.env);
  if (!parsed.ok) throw configError(parsed.problems);
  return fetchProxySecrets({ config: parsed.config, signature: buildCommandSignature(template), keys, tokenFile: settings.tokenFile }, deps);
}

async function fetchValues(settings: LauncherSettings, template: readonly string[], plan: ReferencePlan, deps: RunDeps, log: EnvLogger): Promise<Record<string, string>> {
  if (settings.initialDelayMs > 0) {
    log.info('waiting before the first request', { delayMs: settings.initialDelayMs });
    await deps.sleep(settings.initialDelayMs);
  }
  return runWithRetries(
    settings.attempts,
    async (attempt) => {
      log.debug('requesting secrets', { mode: settings.mode, attempt, attempts: settings.attempts, keys: plan.keys });
      return fetchOnce(settings, template, plan.keys, deps);
    },
    {
      sleep: deps.sleep,
      random: deps.random,
      onRetry: (attempt, delayMs, error) =>
        log.warn('attempt failed, retrying', { attempt, attempts: settings.attempts, delayMs, code: isAppError(error) ? error.code : undefined, error: messageOf(error) }),
    },
  );
}

/** Runs env mode; returns the exit status when the app was not started. */
export async function runEnvMode(args: readonly string[], deps: RunDeps): Promise<number> {
  const split = splitLauncherArgv(args);
  const flags = split === undefined ? undefined : parseLauncherFlags(split.flags);
  const { settings, warnings } = buildLauncherSettings(deps.env, flags?.ok === true ? flags.flags : { standalone: false, retry: undefined, initialDelay: undefined });
  const log = createEnvLogger({ debug: settings.debug, ...(deps.writeLog === undefined ? {} : { write: deps.writeLog }) });
  if (split === undefined || flags === undefined || !flags.ok || split.template.length === 0) {
    const error = flags !== undefined && !flags.ok ? flags.error : split === undefined ? 'expected `-- command [args…]`' : 'no command after --';
    log.error('usage: piggy-env install <dir> | piggy-env write-files | piggy-env [--standalone] -- command [args…]', { code: ENV_ERRORS.usage, error });
    return EXIT.usage;
  }
  for (const warning of warnings) log.warn('ignored setting', { error: warning });
  // Only a pod admitted by an older piggy carries it: the webhook now refuses piggy-dns-resolver.
  if (deps.env[LAUNCHER_ENV.dnsResolver]) log.warn('ignored setting', { error: `${LAUNCHER_ENV.dnsResolver} is not supported: piggy-env resolves names with the system resolver, like the app` });
  const plan = planReferences(deps.env);
  let values: Record<string, string> = {};
  if (plan.keys.length > 0) {
    try {
      values = await fetchValues(settings, split.template, plan, deps, log);
    } catch (error) {
      const fields = { mode: settings.mode, code: isAppError(error) ? error.code : undefined, error: messageOf(error) };
      if (!settings.ignoreNoEnv) {
        log.error('could not resolve secrets', fields);
        return EXIT.failure;
      }
      log.warn('could not resolve secrets; starting the app with its declared environment (PIGGY_IGNORE_NO_ENV)', fields);
    }
  }
  const app = buildAppEnv(deps.env, plan, values);
  if (app.unresolved.length > 0) {
    if (!settings.ignoreNoEnv) {
      log.error('unresolved piggy references', { code: ENV_ERRORS.unresolved, variables: app.unresolved });
      return EXIT.failure;
    }
    log.warn('unresolved piggy references keep their literal value (PIGGY_IGNORE_NO_ENV)', { variables: app.unresolved });
  }
  // `$(VAR)` as the kubelet would expand it, except that a resolved variable gives its value (like a
  // secretKeyRef variable in an unwrapped container); control variables still expand, as declared.
  const argv = buildExecArgv(split.template, { ...deps.env, ...app.env });
  const exec = planExec(argv, app.env, deps.cwd, deps.probe);
  if (!exec.ok) {
    log.error('cannot start the app', { code: exec.code, error: exec.message });
    return exec.exit;
  }
  log.debug('resolved', { variables: [...plan.byVariable.keys()].sort(), program: exec.path });
  log.info('starting the app', { mode: settings.mode, resolved: app.resolved, ms: Math.round(deps.elapsed()) });
  return deps.exec(exec.path, argv, app.env);
}
