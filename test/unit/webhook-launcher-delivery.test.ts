import test from 'ava';
import { handleAdmission } from '../../src/webhook/review.ts';
import { chooseAutoDelivery, parseServerVersion } from '../../src/webhook/launcher-delivery.ts';
import { ENV_IMAGE, buildDeps, buildReview, loadPod, mutatedPod } from '../fixtures/admission/build.ts';

test('auto: image volumes from Kubernetes 1.35 (on by default), the init-container copy before or while unknown', (t) => {
  const delivery = (version: string | undefined) => chooseAutoDelivery(version).delivery;
  t.is(delivery('v1.37.2'), 'image-volume');
  t.is(delivery('v1.35.0-eks-1234'), 'image-volume');
  t.is(delivery('v2.0.0'), 'image-volume');
  t.is(delivery('v1.34.9'), 'init-container');
  t.is(delivery('v1.31.0+k3s1'), 'init-container');
  t.is(delivery(undefined), 'init-container');
  t.is(delivery('nonsense'), 'init-container');
  t.regex(chooseAutoDelivery('v1.34.1').reason, /older than 1\.35/);
});

test('a fixed setting (the annotation, or its default PIGGY_ENV_DELIVERY) wins over what auto means now', async (t) => {
  const kind = async (annotation: string | undefined, defaults: Record<string, string>, auto: 'image-volume' | 'init-container') => {
    const pod = loadPod('pod-env-literal');
    if (annotation !== undefined) pod.metadata = { ...pod.metadata, annotations: { ...pod.metadata?.annotations, 'piggysec.com/piggy-env-delivery': annotation } };
    const out = mutatedPod(pod, await handleAdmission(buildReview(pod), buildDeps({ launcherDelivery: () => auto, defaults: { 'piggysec.com/piggy-env-image': ENV_IMAGE, ...defaults } })));
    const volume = out.spec?.volumes?.find((item) => item.name === 'piggy-env');
    return volume?.image !== undefined ? 'image-volume' : volume?.emptyDir !== undefined ? 'init-container' : 'none';
  };
  t.is(await kind('init-container', {}, 'image-volume'), 'init-container');
  t.is(await kind('image-volume', {}, 'init-container'), 'image-volume');
  t.is(await kind(undefined, { 'piggysec.com/piggy-env-delivery': 'image-volume' }, 'init-container'), 'image-volume');
  t.is(await kind('auto', { 'piggysec.com/piggy-env-delivery': 'init-container' }, 'image-volume'), 'image-volume', 'a pod\'s auto asks the controller');
  t.is(await kind(undefined, {}, 'image-volume'), 'image-volume', 'no setting is auto');
});

test('parseServerVersion reads major and minor of the gitVersion forms providers use', (t) => {
  t.deepEqual(parseServerVersion('v1.37.2'), { major: 1, minor: 37 });
  t.deepEqual(parseServerVersion('v1.30.14-gke.1234000'), { major: 1, minor: 30 });
  t.is(parseServerVersion('1'), undefined);
  t.is(parseServerVersion(''), undefined);
});
