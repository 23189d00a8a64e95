// The pieces of the launch end-to-end tests (test/e2e/proxy-launch.test.ts) that are not about one
// test: the app image's shell containers and what their output says.
import { createHash } from 'node:crypto';
import { escaped } from './webhook.ts';

/** The busybox "app image" of the test kubelet's catalogue. */
export const APP_IMAGE = 'registry.example.com/e2e/busybox-app:1';

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Prints `NAME=<sha256 of its value>` for each variable, and the rest of `extra`. */
export function digestScript(names: readonly string[], extra = ''): string {
  const echoes = names.map((name) => `echo "${name}=$(printf %s "$${name}" | /bin/busybox sha256sum | /bin/busybox cut -c1-64)"`);
  return ['echo "pid=$$"', ...echoes, 'echo "piggy_vars=$(/bin/busybox env | /bin/busybox grep -c ^PIGGY_)"', extra].join('; ');
}

/**
 * A container of the busybox app image running `script` (written as a pod author would: `$` escaped
 * for the kubelet); an env entry is a value or a downward-API field path.
 */
export function shell(name: string, script: string, env: Record<string, string | { fieldPath: string }>, args: readonly string[] = []) {
  return {
    name,
    image: APP_IMAGE,
    command: ['/bin/busybox', 'sh', '-c', ...escaped([script]), 'sh', ...args],
    env: Object.entries(env).map(([key, value]) => (typeof value === 'string' ? { name: key, value } : { name: key, valueFrom: { fieldRef: { fieldPath: value.fieldPath } } })),
  };
}

/** `NAME=value` lines of an app's stdout. */
export const lines = (stdout: string) => Object.fromEntries(stdout.split('\n').filter((line) => line.includes('=')).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));

export function mustGet<T>(map: ReadonlyMap<string, T>, key: string): T {
  const value = map.get(key);
  if (value === undefined) throw new Error(`no ${key}`);
  return value;
}
