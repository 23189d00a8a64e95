import test from 'ava';
import { chooseLauncherDelivery, parseServerVersion } from '../../src/webhook/launcher-delivery.ts';

test('auto: image volumes from Kubernetes 1.35 (on by default), the init-container copy before or while unknown', (t) => {
  const delivery = (version: string | undefined) => chooseLauncherDelivery('auto', version).delivery;
  t.is(delivery('v1.37.2'), 'image-volume');
  t.is(delivery('v1.35.0-eks-1234'), 'image-volume');
  t.is(delivery('v2.0.0'), 'image-volume');
  t.is(delivery('v1.34.9'), 'init-container');
  t.is(delivery('v1.31.0+k3s1'), 'init-container');
  t.is(delivery(undefined), 'init-container');
  t.is(delivery('nonsense'), 'init-container');
  t.regex(chooseLauncherDelivery('auto', 'v1.34.1').reason, /older than 1\.35/);
});

test('a fixed setting wins over the version', (t) => {
  t.is(chooseLauncherDelivery('init-container', 'v1.37.2').delivery, 'init-container');
  t.is(chooseLauncherDelivery('image-volume', 'v1.30.0').delivery, 'image-volume');
  t.is(chooseLauncherDelivery('image-volume', undefined).delivery, 'image-volume');
});

test('parseServerVersion reads major and minor of the gitVersion forms providers use', (t) => {
  t.deepEqual(parseServerVersion('v1.37.2'), { major: 1, minor: 37 });
  t.deepEqual(parseServerVersion('v1.30.14-gke.1234000'), { major: 1, minor: 30 });
  t.is(parseServerVersion('1'), undefined);
  t.is(parseServerVersion(''), undefined);
});
