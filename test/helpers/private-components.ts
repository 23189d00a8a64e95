// Private, restartable copies of stack components for a test that must disrupt one (stop the AWS
// emulator, restart the kube-apiserver) without disturbing the other tests that share the stack.
// Each lives in <stack>/private/<name>-<random>/ (removed after a passing test, kept with its log
// after a failing one) and is stopped by pid in t.teardown; the test driver's stopStack also stops
// any instance a test left behind (e.g. after an ava timeout).
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { apiserverSpec, buildAwsEnv, motoSpec, writeApiserverFiles, writeKubeconfig } from '../../scripts/local/components.ts';
import { startInstance } from '../../scripts/local/instance.ts';
import type { Instance } from '../../scripts/local/instance.ts';
import { privateDir } from '../../scripts/local/stack.ts';
import { testStack } from './stack.ts';

export interface PrivateComponent {
  /** The pid of the current process, or undefined while stopped. */
  readonly pid: number | undefined;
  /** Stops the process by pid (SIGTERM, SIGKILL after 10 s) and waits until it is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it is ready. */
  start(): Promise<void>;
}

export interface PrivateMoto extends PrivateComponent {
  /** http://127.0.0.1:<port>; stays the same across stop()/start(). */
  readonly endpoint: string;
  /** AWS_* variables pointing the SDK's default chain at this moto (for a child process). */
  readonly env: Readonly<Record<string, string>>;
}

export interface PrivateApiserver extends PrivateComponent {
  /** Path of an admin kubeconfig (system:masters token); valid across stop()/start(). */
  readonly kubeconfig: string;
  /** https://127.0.0.1:<port>; stays the same across stop()/start(). */
  readonly url: string;
  /** The --etcd-prefix that keeps this apiserver's objects apart from the shared one's. */
  readonly etcdPrefix: string;
}

/** A fresh folder for one instance under the stack's private/ folder. */
function instanceDir(name: string): { dir: string; id: string } {
  const id = randomBytes(6).toString('hex');
  const dir = path.join(privateDir(testStack().dir), `${name}-${id}`);
  mkdirSync(dir, { recursive: true });
  return { dir, id };
}

/** Stops the instance in teardown and removes its folder when the test passed. */
function own(t: ExecutionContext, dir: string, stop: () => Promise<void>): void {
  t.teardown(async () => {
    await stop();
    if (t.passed) rmSync(dir, { recursive: true, force: true });
  });
}

const pidOf = (inst: Instance): number | undefined => (inst.running() ? inst.info.pid : undefined);

/**
 * A moto server of its own on its own port. moto keeps its state in memory only: after stop() and
 * start() it is empty again, so a test recreates the secrets and parameters it needs.
 */
export async function startPrivateMoto(t: ExecutionContext): Promise<PrivateMoto> {
  const { dir } = instanceDir('moto');
  const ref: { inst?: Instance } = {};
  own(t, dir, async () => ref.inst?.stop());
  const started = (ref.inst = await startInstance(motoSpec(testStack().tools), { dir }));
  const endpoint = started.info.url;
  return {
    endpoint,
    env: buildAwsEnv(endpoint),
    get pid() {
      return pidOf(started);
    },
    stop: () => started.stop(),
    start: () => started.start(),
  };
}

/** Deletes every key under PREFIX/ through etcd's JSON gateway (best effort). */
async function deleteEtcdPrefix(etcdUrl: string, prefix: string): Promise<void> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  // '0' follows '/': [prefix/, prefix0) is exactly the keys under prefix/.
  const body = JSON.stringify({ key: b64(`${prefix}/`), range_end: b64(`${prefix}0`) });
  await fetch(`${etcdUrl}/v3/kv/deleterange`, { method: 'POST', body, signal: AbortSignal.timeout(5_000) }).catch(() => undefined);
}

/**
 * A kube-apiserver of its own on its own port, on the shared stack's etcd under its own
 * --etcd-prefix, with its own cert dir, token and service-account keys. Its objects are invisible
 * to the shared apiserver; they survive stop()/start() (they live in etcd), and the serving
 * certificate, token and keys stay the same, so an existing client and its kubeconfig recover.
 * Teardown stops it and deletes its keys from etcd.
 */
export async function startPrivateApiserver(t: ExecutionContext): Promise<PrivateApiserver> {
  const stack = testStack();
  const etcd = stack.components.find((c) => c.name === 'etcd');
  if (!etcd) throw new Error(`the test stack in ${stack.dir} has no etcd`);
  const { dir, id } = instanceDir('kube-apiserver');
  const etcdPrefix = `/piggy-private-${id}`;
  const ref: { inst?: Instance } = {};
  own(t, dir, async () => {
    await ref.inst?.stop();
    await deleteEtcdPrefix(etcd.url, etcdPrefix);
  });
  const files = writeApiserverFiles(path.join(dir, 'certs'));
  const started = (ref.inst = await startInstance(apiserverSpec(stack.tools, { files, etcdUrl: etcd.url, etcdPrefix }), { dir }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfig, started.info.url, readFileSync(files.crt, 'utf8'), files.token);
  return {
    kubeconfig,
    url: started.info.url,
    etcdPrefix,
    get pid() {
      return pidOf(started);
    },
    stop: () => started.stop(),
    start: () => started.start(),
  };
}
