// Command/args semantics and the signature, checked against a simulated kubelet: the launcher must
// exec exactly what an unwrapped container would have run, and sign exactly what the webhook signed.
import test from 'ava';
import {
  buildCommandSignature,
  buildExecArgv,
  expandKubernetesReferences,
  splitLauncherArgv,
} from '../../src/shared/injection-contract.ts';
import { buildTemplate, buildWrappedCommand, isWrapped, needsImageEntrypoint, readWrappedTemplate, type ImageEntrypoint } from '../../src/webhook/command.ts';
import type { Container } from '../../src/webhook/pod.ts';

/** What the kubelet runs: spec command/args expanded with the container env; image parts never expanded. */
function kubeletArgv(container: Container, image: ImageEntrypoint, env: Record<string, string>): string[] {
  const expand = (list: readonly string[]) => list.map((part) => expandKubernetesReferences(part, (name) => env[name]));
  const command = container.command ?? [];
  const args = container.args ?? [];
  if (command.length > 0) return [...expand(command), ...expand(args)];
  if (args.length > 0) return [...image.entrypoint, ...expand(args)];
  return [...image.entrypoint, ...image.cmd];
}

interface Case {
  readonly title: string;
  readonly container: Container;
  readonly image: ImageEntrypoint;
  readonly expected: string[];
}

const env = { GREETING: 'hello', QUEUE: 'orders', HOME: '/home/app' };
const image = { entrypoint: ['/entry', '--literal=$(GREETING)', '$HOME'], cmd: ['serve', '$$'] };

const cases: Case[] = [
  { title: 'command and args', container: { name: 'c', command: ['/bin/sh', '-c'], args: ['echo $(GREETING) $$HOME'] }, image, expected: ['/bin/sh', '-c', 'echo hello $HOME'] },
  { title: 'command only', container: { name: 'c', command: ['run', '$(QUEUE)', '$(UNKNOWN)'] }, image, expected: ['run', 'orders', '$(UNKNOWN)'] },
  { title: 'args only: image ENTRYPOINT + args', container: { name: 'c', args: ['--queue', '$(QUEUE)'] }, image, expected: ['/entry', '--literal=$(GREETING)', '$HOME', '--queue', 'orders'] },
  { title: 'neither: image ENTRYPOINT + CMD, never expanded', container: { name: 'c' }, image, expected: ['/entry', '--literal=$(GREETING)', '$HOME', 'serve', '$$'] },
  { title: 'empty command list counts as none', container: { name: 'c', command: [], args: [] }, image, expected: ['/entry', '--literal=$(GREETING)', '$HOME', 'serve', '$$'] },
  { title: 'image with only CMD', container: { name: 'c' }, image: { entrypoint: [], cmd: ['node', 'index.js'] }, expected: ['node', 'index.js'] },
];

for (const { title, container, image: config, expected } of cases) {
  test(`wrapping preserves Kubernetes semantics: ${title}`, (t) => {
    t.deepEqual(kubeletArgv(container, config, env), expected, 'the simulated kubelet is right');
    const template = buildTemplate(container, config);
    const wrapped = { ...container, ...buildWrappedCommand(template) };
    t.true(isWrapped(wrapped));
    // The kubelet expands the wrapped container's command/args: it sees only `$$`, so it passes the template through.
    const launcherArgv = kubeletArgv(wrapped, { entrypoint: ['ignored'], cmd: [] }, env);
    t.is(launcherArgv[0], '/piggy/piggy-env');
    const split = splitLauncherArgv(launcherArgv.slice(1));
    t.deepEqual(split?.template, template, 'the launcher receives the template');
    t.is(buildCommandSignature(split?.template ?? []), buildCommandSignature(template), 'signatures agree');
    t.deepEqual(buildExecArgv(split?.template ?? [], env), expected, 'the launcher execs what the kubelet would have');
    t.deepEqual(readWrappedTemplate(wrapped), template, 'the webhook reads the template back (idempotency)');
  });
}

test('needsImageEntrypoint: only unwrapped containers without a command', (t) => {
  t.true(needsImageEntrypoint({ name: 'c' }));
  t.true(needsImageEntrypoint({ name: 'c', args: ['x'] }));
  t.true(needsImageEntrypoint({ name: 'c', command: [] }));
  t.false(needsImageEntrypoint({ name: 'c', command: ['x'] }));
  t.false(needsImageEntrypoint({ name: 'c', command: ['/piggy/piggy-env'], args: ['--', 'x'] }));
});

test('isWrapped recognises the launcher command only in its exact form', (t) => {
  t.true(isWrapped({ name: 'c', command: ['/piggy/piggy-env'], args: ['--'] }));
  t.false(isWrapped({ name: 'c', command: ['/piggy/piggy-env'], args: ['install', '/piggy'] }));
  t.false(isWrapped({ name: 'c', command: ['/piggy/piggy-env', '--'], args: ['x'] }));
  t.false(isWrapped({ name: 'c', command: ['/other'], args: ['--', 'x'] }));
});

test('a hand-wrapped container (Piggy docs style) keeps its meaning once normalised', (t) => {
  const hand: Container = { name: 'c', command: ['/piggy/piggy-env'], args: ['--', 'echo', '$(GREETING)', '$$x'] };
  const unwrapped = kubeletArgv({ name: 'c', command: ['echo', '$(GREETING)', '$$x'] }, image, env);
  const template = readWrappedTemplate(hand);
  const normalised = { ...hand, ...buildWrappedCommand(template) };
  const launcherArgv = kubeletArgv(normalised, image, env).slice(1);
  const split = splitLauncherArgv(launcherArgv);
  t.is(buildCommandSignature(split?.template ?? []), buildCommandSignature(template));
  t.deepEqual(buildExecArgv(split?.template ?? [], env), unwrapped);
});

test('Piggy bug: ["a b"] and ["a","b"] no longer sign alike', (t) => {
  const one = buildTemplate({ name: 'c', command: ['sh', '-c', 'a b'] }, undefined);
  const two = buildTemplate({ name: 'c', command: ['sh', '-c', 'a', 'b'] }, undefined);
  t.not(buildCommandSignature(one), buildCommandSignature(two));
});
