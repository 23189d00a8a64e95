import test from 'ava';
import { parseConfig } from '../../src/config/config.ts';

const minimal = { TLS_CERT_FILE: '/tls/tls.crt', TLS_PRIVATE_KEY_FILE: '/tls/tls.key' };

test('defaults fill every optional variable and the config is frozen', (t) => {
  const result = parseConfig(minimal);
  if (!result.ok) return t.fail(JSON.stringify(result.issues));
  t.deepEqual(result.config.listenAddress, { host: '', port: 8443 });
  t.deepEqual(result.config.metricsAddress, { host: '', port: 9090 });
  t.is(result.config.logLevel, 'info');
  t.is(result.config.shutdownTimeoutMs, 25_000);
  t.is(result.config.shutdownDrainDelayMs, 5_000);
  t.is(result.config.operator.syncTimeoutMs, 120_000);
  t.is(result.config.tlsReloadIntervalMs, 10_000);
  t.is(result.config.kubeconfig, undefined);
  t.true(Object.isFrozen(result.config));
});

test('explicit values are parsed into their types', (t) => {
  const result = parseConfig({
    ...minimal,
    LISTEN_ADDRESS: '127.0.0.1:0',
    METRICS_ADDRESS: '[::1]:9100',
    LOG_LEVEL: 'debug',
    SHUTDOWN_TIMEOUT: '1m30s',
    SHUTDOWN_DRAIN_DELAY: '0s',
    INFORMER_SYNC_TIMEOUT: '30s',
    TLS_RELOAD_INTERVAL: '500ms',
    KUBECONFIG: '/home/me/.kube/config',
    AWS_REGION: 'eu-west-1',
  });
  if (!result.ok) return t.fail(JSON.stringify(result.issues));
  t.deepEqual(result.config.listenAddress, { host: '127.0.0.1', port: 0 });
  t.deepEqual(result.config.metricsAddress, { host: '::1', port: 9100 });
  t.is(result.config.shutdownTimeoutMs, 90_000);
  t.is(result.config.shutdownDrainDelayMs, 0, 'no drain delay is allowed');
  t.is(result.config.operator.syncTimeoutMs, 30_000);
  t.is(result.config.tlsReloadIntervalMs, 500);
  t.is(result.config.kubeconfig, '/home/me/.kube/config');
  t.is(result.config.awsRegion, 'eu-west-1');
});

test('every bad variable is reported at once', (t) => {
  const result = parseConfig({
    LOG_LEVEL: 'loud',
    LISTEN_ADDRESS: 'localhost',
    METRICS_ADDRESS: ':99999',
    SHUTDOWN_TIMEOUT: '0s',
    TLS_RELOAD_INTERVAL: 'soon',
  });
  if (result.ok) return t.fail('expected issues');
  t.deepEqual(
    result.issues.map((issue) => issue.variable).sort(),
    ['LISTEN_ADDRESS', 'LOG_LEVEL', 'METRICS_ADDRESS', 'SHUTDOWN_TIMEOUT', 'TLS_CERT_FILE', 'TLS_PRIVATE_KEY_FILE', 'TLS_RELOAD_INTERVAL'],
  );
  for (const issue of result.issues) t.regex(issue.problem, /\S/);
});

test('blank values count as unset', (t) => {
  const result = parseConfig({ ...minimal, LOG_LEVEL: '  ', KUBECONFIG: '' });
  if (!result.ok) return t.fail(JSON.stringify(result.issues));
  t.is(result.config.logLevel, 'info');
  t.is(result.config.kubeconfig, undefined);
});

test('WEBHOOK_CERT_EXTRA_NAMES splits DNS names from IP addresses and rejects anything else', (t) => {
  const result = parseConfig({ ...minimal, WEBHOOK_CERT_EXTRA_NAMES: ' 127.0.0.1, piggy.example.com,::1 ,127.0.0.2' });
  if (!result.ok) return t.fail(JSON.stringify(result.issues));
  t.deepEqual(result.config.injection.certificates.extraDnsNames, ['piggy.example.com']);
  t.deepEqual(result.config.injection.certificates.extraIpAddresses, ['127.0.0.1', '::1', '127.0.0.2']);
  const defaults = parseConfig(minimal);
  if (defaults.ok) t.deepEqual([defaults.config.injection.certificates.extraDnsNames, defaults.config.injection.certificates.extraIpAddresses], [[], []]);
  else t.fail(JSON.stringify(defaults.issues));
  const bad = parseConfig({ ...minimal, WEBHOOK_CERT_EXTRA_NAMES: 'ok.example, not a name, https://x' });
  t.false(bad.ok);
  if (!bad.ok) t.deepEqual(bad.issues.map((i) => i.variable), ['WEBHOOK_CERT_EXTRA_NAMES']);
});

test("proxy identity: piggy's own audience by default, a 10-minute token, the legacy path off", (t) => {
  const result = parseConfig(minimal);
  if (!result.ok) return t.fail(JSON.stringify(result.issues));
  t.deepEqual(result.config.injection.proxyToken, { audience: 'piggysec.com', expirationSeconds: 600 });
  t.deepEqual(result.config.proxy.audiences, ['piggysec.com'], 'PROXY_AUDIENCES defaults to the audience the webhook mounts');
  t.false(result.config.proxy.acceptLegacyPods);
  const custom = parseConfig({ ...minimal, PROXY_TOKEN_AUDIENCE: 'piggy.example', PROXY_TOKEN_EXPIRATION: '1h', PROXY_ACCEPT_LEGACY_PODS: 'true' });
  if (!custom.ok) return t.fail(JSON.stringify(custom.issues));
  t.deepEqual(custom.config.proxy.audiences, ['piggy.example']);
  t.is(custom.config.injection.proxyToken.expirationSeconds, 3600);
  t.true(custom.config.proxy.acceptLegacyPods);
  const bad = parseConfig({ ...minimal, PROXY_TOKEN_EXPIRATION: '5m', PROXY_TOKEN_AUDIENCE: 'a b', PIGGY_DNS_RESOLVER: 'tcp' });
  t.deepEqual(bad.ok ? [] : bad.issues.map((issue) => issue.variable).sort(), ['PIGGY_DNS_RESOLVER', 'PROXY_TOKEN_AUDIENCE', 'PROXY_TOKEN_EXPIRATION']);
  const mismatch = parseConfig({ ...minimal, PROXY_AUDIENCES: 'other' });
  t.like(mismatch, { ok: false, issues: [{ variable: 'PROXY_AUDIENCES' }] }, 'the webhook\'s tokens would all be refused');
  t.true(parseConfig({ ...minimal, PROXY_AUDIENCES: 'other', WEBHOOK_ENABLED: 'false' }).ok, 'a proxy-only replica may accept other audiences');
});
