// The built piggy-env (single executable + its own loader and libraries) in isolated roots with no
// Node.js and no libc: `install` in the image root fills the launcher volume, then the launcher runs
// in a root holding only a static busybox and becomes the app (same PID). Proxy mode talks to a fake
// HTTPS proxy on 127.0.0.1 (the real /secret endpoint is tested elsewhere); standalone and file mode
// talk to the stack's AWS emulator.
import { once } from 'node:events';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { appRun, createSandbox, runInRoot, runInstall, sandboxProblems, startInRoot, type Sandbox } from '../../bench/env/sandbox.ts';
import { ensurePiggyEnvBuild, IMAGE_LAUNCHER_DIR } from '../../scripts/build-piggy-env.ts';
import { readElfHead, readInterpreterPath } from '../../src/env/elf.ts';
import { buildCommandSignature, escapeKubernetesReferences, formatFileSpecs } from '../../src/shared/injection-contract.ts';
import { makeServingCertificate, type TestCertificate } from '../helpers/tls.ts';
import { awsEnv, eventually, uniqueName } from '../helpers/stack.ts';

const CANARY = 'canary-51d0c7aa-launcher-value';
const UID = '0123456789abcdef0123456789abcdef';
const TOKEN = 'sandbox-sa-token';
const problems = sandboxProblems();
if (problems.length > 0) console.warn(`env-sandbox: SKIPPED — this machine lacks: ${problems.join(', ')}`);
const sandboxTest = problems.length === 0 ? test : test.skip;

interface Recorded {
  readonly token: string | undefined;
  readonly body: { name: string; uid: string; signature: string; keys: string[] };
}

let sandbox: Sandbox;
let proxy: Server;
let proxyUrl: string;
let cert: TestCertificate;
let otherCert: TestCertificate;
const requests = new Map<string, Recorded[]>();
const answers = new Map<string, { status: number; body: unknown }>();
const cleanups: (() => unknown)[] = [];

test.before(async () => {
  if (problems.length > 0) return;
  const build = await ensurePiggyEnvBuild();
  sandbox = await createSandbox(join(build.imageRoot, IMAGE_LAUNCHER_DIR.slice(1)), TOKEN);
  cleanups.push(() => sandbox.dispose());
  [cert, otherCert] = await Promise.all([makeServingCertificate(), makeServingCertificate()]);
  proxy = createServer({ cert: cert.cert, key: await readFile(cert.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Recorded['body'];
      const token = req.headers['x-token'];
      requests.set(body.name, [...(requests.get(body.name) ?? []), { token: Array.isArray(token) ? token[0] : token, body }]);
      const answer = answers.get(body.name) ?? { status: 404, body: { code: 'ERR_TEST_UNKNOWN_POD', message: 'unknown pod' } };
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  proxy.listen(0, '127.0.0.1');
  cleanups.push(() => proxy.close());
  await once(proxy, 'listening');
  proxyUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const installed = await runInstall(sandbox);
  if (installed.code !== 0) throw new Error(`install failed (${installed.code}): ${installed.stderr}`);
});

test.after.always(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** The env of a proxy-mode container as the webhook writes it (pod name doubles as the fake proxy's key). */
function proxyEnv(pod: string, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: '/bin', PIGGY_ADDRESS: proxyUrl, PIGGY_CA_BUNDLE: cert.cert, PIGGY_UID: UID, PIGGY_POD_NAME: pod, ...extra };
}

/** A busybox shell script as a template: `$` escaped the way the webhook escapes image strings. */
const script = (text: string) => ['/bin/busybox', 'sh', '-c', escapeKubernetesReferences(text)];

const envLines = (stdout: string) => Object.fromEntries(stdout.split('\n').filter((line) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(line)).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));

sandboxTest('install (as the restricted init container user) fills the volume: the launcher, 0755, pointed at /piggy/lib', async (t) => {
  const file = await readFile(join(sandbox.volume, 'piggy-env'));
  const head = readElfHead(file.subarray(0, 65536));
  if (head.kind !== 'elf' || head.interpreter === undefined) return t.fail('no PT_INTERP');
  t.is(readInterpreterPath(file.subarray(head.interpreter.offset, head.interpreter.offset + head.interpreter.size)), '/piggy/lib/ld-linux-x86-64.so.2');
  const info = await stat(join(sandbox.volume, 'piggy-env'));
  t.is(info.mode & 0o777, 0o755);
  t.is(info.uid, 65532);
  t.true((await stat(join(sandbox.volume, 'lib', 'ld-linux-x86-64.so.2'))).isFile());
});

sandboxTest('proxy mode in a root with only busybox: the app gets the resolved env, with the launcher\'s PID', async (t) => {
  const pod = 'web-resolve';
  answers.set(pod, { status: 200, body: { db: CANARY, api: 'api-value', unrelated: 'x' } });
  const probe = 'echo "pid=$$"; echo "sigign=$(/bin/busybox grep SigIgn /proc/$$/status)"; echo "fds=$(/bin/busybox ls /proc/$$/fd | /bin/busybox tr "\\n" " ")"; /bin/busybox ls -l /proc/$$/fd; /bin/busybox env';
  const template = script(probe);
  // NODE_OPTIONS of a Node.js app image must not reach the launcher's own Node (the SEA ignores it).
  const env = proxyEnv(pod, { DB_PASSWORD: 'piggy:db', ALIAS: 'piggy:db', API_KEY: 'piggy:api\n', PLAIN: 'plain', PIGGY_DEBUG: 'true', NODE_OPTIONS: '--require=/app/missing.js' });
  const [result, direct] = await Promise.all([
    runInRoot(appRun(sandbox, ['/piggy/piggy-env', '--', ...template], env)),
    runInRoot(appRun(sandbox, ['/bin/busybox', 'sh', '-c', probe], { PATH: '/bin' })),
  ]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, new RegExp(`^pid=${result.pid}$`, 'm'), 'the app runs with the launcher\'s PID');
  const line = (stdout: string, name: string) => stdout.split('\n').find((text) => text.startsWith(`${name}=`));
  t.is(line(result.stdout, 'sigign'), line(direct.stdout, 'sigign'), 'signal dispositions as without the launcher');
  // On failure, show the probe lines only (never the env dump, which holds the canary).
  const probeLines = (stdout: string) => stdout.split('\n').filter((text) => /^(pid|sigign|fds)=|->/.test(text)).join('\n');
  t.is(line(result.stdout, 'fds'), line(direct.stdout, 'fds'), `open files as without the launcher:\n${probeLines(result.stdout)}\n---\n${probeLines(direct.stdout)}`);
  const appEnv = envLines(result.stdout);
  t.is(appEnv.DB_PASSWORD, CANARY);
  t.is(appEnv.ALIAS, CANARY);
  t.is(appEnv.API_KEY, 'api-value');
  t.is(appEnv.PLAIN, 'plain');
  t.is(appEnv.NODE_OPTIONS, '--require=/app/missing.js', 'the app still gets its NODE_OPTIONS');
  t.deepEqual(Object.keys(appEnv).filter((name) => name.startsWith('PIGGY_')), []);
  const [request] = requests.get(pod) ?? [];
  t.is(request?.token, TOKEN);
  t.deepEqual(request?.body, { name: pod, uid: UID, signature: buildCommandSignature(template), keys: ['api', 'db'] });
  t.false(result.stderr.includes(CANARY), 'no value in the launcher\'s log');
  t.regex(result.stderr, /"msg":"starting the app"/);
});

sandboxTest('exit codes and signals are the app\'s', async (t) => {
  const pod = 'web-exit';
  answers.set(pod, { status: 200, body: { a: 'v' } });
  const exited = await runInRoot(appRun(sandbox, ['/piggy/piggy-env', '--', ...script('exit 42')], proxyEnv(pod, { A: 'piggy:a' })));
  t.is(exited.code, 42);
  const running = startInRoot(appRun(sandbox, ['/piggy/piggy-env', '--', ...script('echo ready; exec /bin/busybox sleep 60')], proxyEnv(pod, { A: 'piggy:a' })));
  await eventually(async () => {
    if (!running.stdout().includes('ready')) throw new Error('not ready');
  });
  process.kill(running.pid, 'SIGTERM');
  const killed = await running.done;
  t.is(killed.signal, 'SIGTERM');
});

sandboxTest('an untrusted certificate, an https address served in plain HTTP, or an http address: refused, the app never starts', async (t) => {
  const pod = 'web-untrusted';
  answers.set(pod, { status: 200, body: { a: 'v' } });
  const argv = ['/piggy/piggy-env', '--', ...script('echo STARTED')];
  const untrusted = await runInRoot(appRun(sandbox, argv, proxyEnv(pod, { A: 'piggy:a', PIGGY_CA_BUNDLE: otherCert.cert, NODE_TLS_REJECT_UNAUTHORIZED: '0' })));
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /ERR_ENV_TLS/);
  t.is(requests.get(pod), undefined, 'nothing reached the server');
  const plainServer = (await import('node:http')).createServer((_req, res) => res.end('{}'));
  plainServer.listen(0, '127.0.0.1');
  await once(plainServer, 'listening');
  t.teardown(() => plainServer.close());
  const port = (plainServer.address() as AddressInfo).port;
  const overPlain = await runInRoot(appRun(sandbox, argv, proxyEnv(pod, { A: 'piggy:a', PIGGY_ADDRESS: `https://127.0.0.1:${port}` })));
  t.is(overPlain.code, 1);
  t.regex(overPlain.stderr, /ERR_ENV_TLS/);
  const http = await runInRoot(appRun(sandbox, argv, proxyEnv(pod, { A: 'piggy:a', PIGGY_ADDRESS: `http://127.0.0.1:${port}` })));
  t.is(http.code, 1);
  t.regex(http.stderr, /plain http: is refused/);
  for (const result of [untrusted, overPlain, http]) t.false(result.stdout.includes('STARTED'));
});

sandboxTest('the app image\'s own libc does not matter: a broken libc.so.6 and loader on its paths and LD_LIBRARY_PATH are never used', async (t) => {
  for (const dir of ['lib/x86_64-linux-gnu', 'lib64', 'usr/lib']) await mkdir(join(sandbox.appRoot, dir), { recursive: true });
  for (const file of ['lib/x86_64-linux-gnu/libc.so.6', 'lib/x86_64-linux-gnu/libstdc++.so.6', 'lib64/ld-linux-x86-64.so.2', 'usr/lib/libc.so.6']) {
    await writeFile(join(sandbox.appRoot, file), 'not a library', { mode: 0o755 });
  }
  const env = { PATH: '/bin', LD_LIBRARY_PATH: '/lib/x86_64-linux-gnu:/usr/lib' };
  const result = await runInRoot(appRun(sandbox, ['/piggy/piggy-env', '--', '/bin/busybox', 'echo', 'started'], env));
  t.is(result.code, 0, result.stderr);
  t.is(result.stdout, 'started\n');
});

sandboxTest('a program missing from the app image: exit 127 and a clear message, not a crash', async (t) => {
  const env = { PATH: '/bin' };
  const bash = await runInRoot(appRun(sandbox, ['/piggy/piggy-env', '--', '/bin/bash', '-c', 'true'], env));
  t.is(bash.code, 127);
  t.regex(bash.stderr, /ERR_ENV_PROGRAM_NOT_FOUND.*\/bin\/bash: no such file/);
  const onPath = await runInRoot(appRun(sandbox, ['/piggy/piggy-env', '--', 'nginx'], env));
  t.is(onPath.code, 127);
  t.regex(onPath.stderr, /nginx: not found on PATH/);
});

sandboxTest('standalone mode reads the emulator from the isolated root and execs the app (exit 0, not Piggy\'s 1)', async (t) => {
  const name = uniqueName('env-standalone');
  const client = new SecretsManagerClient({});
  t.teardown(() => client.destroy());
  await client.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ db: CANARY, port: 5432 }) }));
  const env = { PATH: '/bin', ...awsEnv(), PIGGY_AWS_SECRET_NAME: name, DB: 'piggy:db', PORT: 'piggy:port' };
  const result = await runInRoot(appRun(sandbox, ['/piggy/piggy-env', '--standalone', '--', '/bin/busybox', 'env'], env));
  t.is(result.code, 0, result.stderr);
  t.is(envLines(result.stdout).DB, CANARY);
  t.is(envLines(result.stdout).PORT, '5432');
  t.false(result.stderr.includes(CANARY));
});

sandboxTest('write-files runs as the image ENTRYPOINT and writes the secret with its mode', async (t) => {
  const name = uniqueName('env-files');
  const client = new SecretsManagerClient({});
  t.teardown(() => client.destroy());
  const created = await client.send(new CreateSecretCommand({ Name: name, SecretString: `raw ${CANARY}` }));
  const aws = awsEnv();
  const volume = join(sandbox.base, 'secret-files');
  await mkdir(volume, { mode: 0o777 });
  await chmod(volume, 0o777);
  const specs = formatFileSpecs([{ secretId: created.ARN ?? name, region: aws.AWS_REGION ?? 'us-east-1', path: '/secrets/app/secret' }]);
  const result = await runInRoot({
    root: sandbox.imageRoot,
    binds: [
      { source: sandbox.launcherDir, target: IMAGE_LAUNCHER_DIR, readOnly: true },
      { source: volume, target: '/secrets' },
    ],
    argv: [`${IMAGE_LAUNCHER_DIR}/piggy-env`, 'write-files'],
    env: { ...aws, PIGGY_FILES: specs, PIGGY_FILE_MODE: '0400' },
    user: '1000:1000',
  });
  t.is(result.code, 0, result.stderr);
  const path = join(volume, 'app', 'secret');
  t.is(await readFile(path, 'utf8'), `raw ${CANARY}`);
  const info = await stat(path);
  t.is(info.mode & 0o777, 0o400);
  t.is(info.uid, 1000);
  t.false(result.stderr.includes(CANARY));
});
