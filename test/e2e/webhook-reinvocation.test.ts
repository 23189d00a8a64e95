// The injection webhook end to end, next to another mutating webhook: with reinvocationPolicy
// IfNeeded the API server calls piggy again after the other webhook changed the pod. Whatever the
// order, the stored pod has exactly one launcher volume, one install-piggy-env, and a piggy-uid map
// that matches the wrapped containers; a container the other webhook gave a `piggy:` value is wrapped.
import test from 'ava';
import type { Pod } from '../../src/webhook/pod.ts';
import { createTestNamespace } from '../helpers/kube.ts';
import { uniqueName } from '../helpers/stack.ts';
import {
  assertInjectedOnce,
  assertNotWrapped,
  assertWrapped,
  containerOf,
  createPod,
  createScope,
  envOf,
  startPatchingWebhook,
  startWebhookController,
  type Registration,
  type WebhookController,
} from '../helpers/webhook.ts';

// One controller process; every test registers it for its own namespace next to its own other webhook.
const scope = createScope();
let controller: WebhookController;

test.before(async (t) => {
  controller = await startWebhookController(scope, { namespace: await createTestNamespace(t, 'e2e-wh-reinv') });
});
test.after.always(() => scope.close());

async function ownNamespace(t: Parameters<typeof createTestNamespace>[0], prefix: string): Promise<Registration> {
  return controller.register(t, await createTestNamespace(t, prefix));
}

/** JSON-pointer escaping of one path segment. */
const pointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

/** Adds label `other-webhook: seen` and, to every app container without it, env `name=value`. Idempotent. */
function addEnvAndLabel(name: string, value: string, only?: string) {
  return (pod: Pod): unknown[] => {
    const operations: unknown[] = [];
    if (pod.metadata?.labels?.['other-webhook'] === undefined) {
      operations.push(pod.metadata?.labels === undefined ? { op: 'add', path: '/metadata/labels', value: { 'other-webhook': 'seen' } } : { op: 'add', path: `/metadata/labels/${pointer('other-webhook')}`, value: 'seen' });
    }
    (pod.spec?.containers ?? []).forEach((container, index) => {
      if (only !== undefined && container.name !== only) return;
      if (container.env?.some((item) => item.name === name)) return;
      operations.push(container.env === undefined ? { op: 'add', path: `/spec/containers/${index}/env`, value: [{ name, value }] } : { op: 'add', path: `/spec/containers/${index}/env/-`, value: { name, value } });
    });
    return operations;
  };
}

function twoContainerPod(namespace: string): Pod {
  return {
    metadata: { name: uniqueName('reinvoke'), annotations: { 'piggysec.com/aws-secret-name': `${namespace}/app` } },
    spec: {
      containers: [
        { name: 'app', image: 'registry.example.com/shop/app:1', command: ['/app'], env: [{ name: 'TOKEN', value: 'piggy:token' }] },
        { name: 'late', image: 'registry.example.com/shop/late:1', command: ['/late', '$(MODE)'], env: [{ name: 'MODE', value: 'x' }] },
      ],
    },
  };
}

const reviewsOf = (lines: readonly { msg?: string; pod?: unknown }[], pod: string) => lines.filter((line) => (line.msg === 'pod mutated' || line.msg === 'admission allowed') && line.pod === pod);

test('another webhook after piggy gives a container a piggy: value: piggy is called again and wraps it, still one volume and one install container', async (t) => {
  const { namespace, namespaceSelector } = await ownNamespace(t, 'e2e-wh-reinv-after');
  // Configurations are called in name order: "zz-…" runs after "piggy-e2e-…".
  const other = await startPatchingWebhook(t, { name: uniqueName('zz-other'), namespace, namespaceSelector, patch: addEnvAndLabel('LATE_TOKEN', 'piggy:late-token', 'late') });
  const pod = twoContainerPod(namespace);
  const stored = await createPod(namespace, pod);
  t.is(stored.metadata?.labels?.['other-webhook'], 'seen');
  t.is(envOf(containerOf(stored, 'late')).LATE_TOKEN, 'piggy:late-token');
  assertWrapped(t, stored, 'app', ['/app']);
  assertWrapped(t, stored, 'late', ['/late', '$(MODE)']);
  assertInjectedOnce(t, stored, ['app', 'late']);
  t.is((stored.spec?.containers ?? []).flatMap((item) => item.env ?? []).filter((item) => item.name === 'LATE_TOKEN').length, 1);
  const name = `${namespace}/${pod.metadata?.name ?? ''}`;
  await controller.piggy.waitForLog(() => reviewsOf(controller.piggy.lines, name).length >= 2, 10_000);
  t.true(reviewsOf(controller.piggy.lines, name).length >= 2, 'piggy was reinvoked');
  t.true(other.calls() >= 1);
});

test('another webhook after piggy adds a plain env var and a label: the reinvocation changes nothing', async (t) => {
  const { namespace, namespaceSelector } = await ownNamespace(t, 'e2e-wh-reinv-plain');
  await startPatchingWebhook(t, { name: uniqueName('zz-other'), namespace, namespaceSelector, patch: addEnvAndLabel('INJECTED_BY_OTHER', 'yes') });
  const pod = twoContainerPod(namespace);
  const stored = await createPod(namespace, pod);
  assertWrapped(t, stored, 'app', ['/app']);
  assertNotWrapped(t, stored, 'late');
  assertInjectedOnce(t, stored, ['app']);
  t.is(envOf(containerOf(stored, 'app')).INJECTED_BY_OTHER, 'yes');
  const name = `${namespace}/${pod.metadata?.name ?? ''}`;
  await controller.piggy.waitForLog(() => reviewsOf(controller.piggy.lines, name).length >= 2, 10_000);
  const reviews = reviewsOf(controller.piggy.lines, name);
  t.is(reviews[0]?.msg, 'pod mutated');
  t.is(reviews[1]?.msg, 'admission allowed', 'the reinvocation found nothing to do');
});

test('another webhook before piggy, reinvoked after it: the other webhook\'s additions are kept and piggy\'s appear once', async (t) => {
  const { namespace, namespaceSelector } = await ownNamespace(t, 'e2e-wh-reinv-before');
  // "aa-…" runs before "piggy-e2e-…"; it is reinvoked after piggy's change and must find nothing to do.
  const other = await startPatchingWebhook(t, { name: uniqueName('aa-other'), namespace, namespaceSelector, patch: addEnvAndLabel('EARLY_TOKEN', 'piggy:early', 'late') });
  const before = other.calls();
  const stored = await createPod(namespace, twoContainerPod(namespace));
  assertWrapped(t, stored, 'app', ['/app']);
  assertWrapped(t, stored, 'late', ['/late', '$(MODE)']);
  assertInjectedOnce(t, stored, ['app', 'late']);
  t.is(stored.metadata?.labels?.['other-webhook'], 'seen');
  t.true(other.calls() - before >= 2, 'the other webhook was reinvoked after piggy');
});
