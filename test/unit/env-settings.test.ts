import test from 'ava';
import { DEFAULT_TOKEN_FILE, buildLauncherSettings, parseLauncherFlags, type LauncherFlags } from '../../src/env/settings.ts';

const noFlags: LauncherFlags = { standalone: false, retry: undefined, initialDelay: undefined };

test('flags: Piggy\'s --standalone, --retry N, --initial-delay D, also with =', (t) => {
  t.deepEqual(parseLauncherFlags(['--standalone', '--retry', '3', '--initial-delay=2s']), { ok: true, flags: { standalone: true, retry: '3', initialDelay: '2s' } });
  t.deepEqual(parseLauncherFlags([]), { ok: true, flags: noFlags });
  t.false(parseLauncherFlags(['--bogus']).ok);
  t.false(parseLauncherFlags(['--retry']).ok);
  t.false(parseLauncherFlags(['--standalone=yes']).ok);
});

test('settings: defaults are proxy mode, one attempt, no delay, the kubelet token path', (t) => {
  const { settings, warnings } = buildLauncherSettings({}, noFlags);
  t.deepEqual(settings, { mode: 'proxy', debug: false, ignoreNoEnv: false, attempts: 1, initialDelayMs: 0, tokenFile: DEFAULT_TOKEN_FILE });
  t.deepEqual(warnings, []);
});

test('settings: a PIGGY_* variable that is set wins over the flag (Piggy precedence)', (t) => {
  const flags: LauncherFlags = { standalone: true, retry: '5', initialDelay: '1s' };
  const { settings } = buildLauncherSettings({ PIGGY_STANDALONE: 'false', PIGGY_NUMBER_OF_RETRY: '2', PIGGY_INITIAL_DELAY: '1m30s' }, flags);
  t.is(settings.mode, 'proxy');
  t.is(settings.attempts, 2);
  t.is(settings.initialDelayMs, 90_000);
  t.is(buildLauncherSettings({}, flags).settings.mode, 'standalone');
  t.is(buildLauncherSettings({}, flags).settings.attempts, 5);
});

test('settings: Go booleans; PIGGY_NUMBER_OF_RETRY is the total number of attempts', (t) => {
  const { settings } = buildLauncherSettings({ PIGGY_STANDALONE: 'T', PIGGY_DEBUG: '1', PIGGY_IGNORE_NO_ENV: 'TRUE', PIGGY_NUMBER_OF_RETRY: '3' }, noFlags);
  t.is(settings.mode, 'standalone');
  t.true(settings.debug);
  t.true(settings.ignoreNoEnv);
  t.is(settings.attempts, 3);
});

test('settings: bad tuning values fall back to the defaults with a warning, never a crash (Piggy panicked on a negative count)', (t) => {
  for (const retry of ['0', '-1', 'abc', '101', '1.5']) {
    const { settings, warnings } = buildLauncherSettings({ PIGGY_NUMBER_OF_RETRY: retry }, noFlags);
    t.is(settings.attempts, 1, retry);
    t.is(warnings.length, 1, retry);
  }
  const delay = buildLauncherSettings({ PIGGY_INITIAL_DELAY: 'soon', PIGGY_DEBUG: 'maybe' }, noFlags);
  t.is(delay.settings.initialDelayMs, 0);
  t.false(delay.settings.debug);
  t.is(delay.warnings.length, 2);
  t.is(buildLauncherSettings({ PIGGY_INITIAL_DELAY: '2h' }, noFlags).settings.initialDelayMs, 0);
  t.is(buildLauncherSettings({ PIGGY_INITIAL_DELAY: '0' }, noFlags).warnings.length, 0);
});

test('settings: PIGGY_TOKEN_FILE overrides the token path', (t) => {
  t.is(buildLauncherSettings({ PIGGY_TOKEN_FILE: '/var/run/secrets/tokens/piggy' }, noFlags).settings.tokenFile, '/var/run/secrets/tokens/piggy');
});
