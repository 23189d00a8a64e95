import test from 'ava';
import { isTransient } from '../../src/shared/errors.ts';
import { buildCommandSignature } from '../../src/shared/injection-contract.ts';
import type { HttpRequest, HttpResponse } from '../../src/env/http-request.ts';
import { isTlsVerificationFailure } from '../../src/env/http-request.ts';
import { fetchProxySecrets, parseProxyConfig, parseProxyResponse, type ProxyConfig } from '../../src/env/proxy-client.ts';

const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const UID = '0123456789abcdef0123456789abcdef';
const base = { PIGGY_ADDRESS: 'https://piggy.piggy.svc:8443', PIGGY_CA_BUNDLE: CA, PIGGY_UID: UID, PIGGY_POD_NAME: 'web-0' };

test('proxy config: https address (trailing slashes and a path prefix kept right), CA, uid and pod name', (t) => {
  const parsed = parseProxyConfig({ ...base, PIGGY_ADDRESS: 'https://piggy.piggy.svc:8443/' });
  if (!parsed.ok) return t.fail(parsed.problems.join('; '));
  t.is(parsed.config.url.href, 'https://piggy.piggy.svc:8443/secret');
  const prefixed = parseProxyConfig({ ...base, PIGGY_ADDRESS: 'https://gw.example/piggy//' });
  t.is(prefixed.ok ? prefixed.config.url.href : '', 'https://gw.example/piggy/secret');
});

test('proxy config: plain HTTP, a missing CA bundle and missing identity are refused, all named at once', (t) => {
  const plain = parseProxyConfig({ ...base, PIGGY_ADDRESS: 'http://piggy.piggy.svc' });
  t.false(plain.ok);
  t.regex(plain.ok ? '' : plain.problems.join(), /https:\/\/ URL; plain http: is refused/);
  const missing = parseProxyConfig({ PIGGY_ADDRESS: 'https://x' });
  t.deepEqual(missing.ok ? [] : missing.problems.map((problem) => problem.split(' ')[0]), ['PIGGY_CA_BUNDLE', 'PIGGY_UID', 'PIGGY_POD_NAME']);
  t.false(parseProxyConfig({ ...base, PIGGY_ADDRESS: 'not a url' }).ok);
});

test('proxy response: only the keys asked for, only strings', (t) => {
  const body = JSON.stringify({ a: '1', b: '2', n: 3, PIGGY_ALLOWED_SA: 'ns:sa' });
  t.deepEqual(parseProxyResponse(200, body, ['a', 'n', 'missing']), { a: '1' });
});

test('proxy response: 429 and 5xx are transient, other statuses terminal, with the proxy\'s code and message', (t) => {
  const failure = (status: number, body = '') => {
    try {
      parseProxyResponse(status, body, ['a']);
    } catch (error) {
      return error as Error & { code: string };
    }
    throw new Error('expected a failure');
  };
  for (const status of [429, 500, 502, 503, 504]) {
    const error = failure(status);
    t.true(isTransient(error), String(status));
    t.is(error.code, 'ERR_ENV_PROXY_UNAVAILABLE');
  }
  for (const status of [400, 401, 403, 404, 409]) {
    const error = failure(status, JSON.stringify({ code: 'ERR_PROXY_SIGNATURE', message: 'signature\ndoes not match' }));
    t.false(isTransient(error), String(status));
    t.is(error.code, 'ERR_ENV_PROXY_REFUSED');
    t.regex(error.message, new RegExp(`answered ${status} \\(ERR_PROXY_SIGNATURE: signature does not match\\)`));
  }
  t.is(failure(200, 'nope').code, 'ERR_ENV_PROXY_RESPONSE');
  t.is(failure(200, '["a"]').code, 'ERR_ENV_PROXY_RESPONSE');
  t.regex(failure(403, JSON.stringify({ error: { code: 'ERR_X', message: 'm' } })).message, /\(ERR_X: m\)/);
});

test('tls failures are recognised (not retried)', (t) => {
  for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER']) {
    t.true(isTlsVerificationFailure(code), code);
  }
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', undefined]) t.false(isTlsVerificationFailure(code), String(code));
});

test('proxy fetch: Piggy\'s request, with the token read on every attempt and the CA as the only trust', async (t) => {
  const parsed = parseProxyConfig(base);
  if (!parsed.ok) return t.fail();
  const config: ProxyConfig = parsed.config;
  const requests: HttpRequest[] = [];
  let token = 'token-1';
  const deps = {
    readFile: async (path: string) => {
      t.is(path, '/var/run/secrets/kubernetes.io/serviceaccount/token');
      return `${token}\n`;
    },
    sendHttp: async (request: HttpRequest): Promise<HttpResponse> => {
      requests.push(request);
      return { status: 200, headers: {}, body: JSON.stringify({ db: 'v' }) };
    },
  };
  const template = ['/app/server', '--port', '8080'];
  const input = { config, signature: buildCommandSignature(template), keys: ['db'], tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' };
  t.deepEqual(await fetchProxySecrets(input, deps), { db: 'v' });
  token = 'token-2';
  await fetchProxySecrets(input, deps);
  const [first, second] = requests;
  t.is(first?.method, 'POST');
  t.is(first?.url.href, 'https://piggy.piggy.svc:8443/secret');
  t.is(first?.ca, CA);
  t.is(first?.headers['x-token'], 'token-1');
  t.is(second?.headers['x-token'], 'token-2');
  t.is(first?.headers['content-type'], 'application/json');
  t.deepEqual(JSON.parse(first?.body ?? ''), { name: 'web-0', uid: UID, signature: buildCommandSignature(template), keys: ['db'] });
});

test('proxy fetch: a missing or empty token is a terminal configuration error', async (t) => {
  const parsed = parseProxyConfig(base);
  if (!parsed.ok) return t.fail();
  const input = { config: parsed.config, signature: 's', keys: ['a'], tokenFile: '/nope' };
  const sendHttp = async (): Promise<HttpResponse> => t.fail('no request without a token');
  const missing = await t.throwsAsync(fetchProxySecrets(input, { sendHttp, readFile: async () => Promise.reject(new Error('ENOENT')) }));
  t.is((missing as Error & { code: string }).code, 'ERR_ENV_CONFIG');
  t.false(isTransient(missing));
  await t.throwsAsync(fetchProxySecrets(input, { sendHttp, readFile: async () => '  \n' }), { message: /is empty/ });
});
