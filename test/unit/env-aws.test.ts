import test from 'ava';
import { isTransient } from '../../src/shared/errors.ts';
import { callAwsJson, readArnRegion, readJsonErrorType, resolveAwsEndpoint } from '../../src/env/aws-call.ts';
import { fetchAwsCredentials, parseAssumeRoleResponse } from '../../src/env/aws-credentials.ts';
import { fetchParametersByPath } from '../../src/env/aws-secrets.ts';
import type { HttpRequest, HttpResponse } from '../../src/env/http-request.ts';
import { buildFileContent, buildParameterValues, buildSecretValues } from '../../src/env/secret-values.ts';
import { fetchStandaloneSecrets, parseStandaloneConfig } from '../../src/env/standalone.ts';

const now = () => new Date('2026-02-13T00:00:00Z');
const json = (status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse => ({ status, headers, body: JSON.stringify(body) });

test('endpoints: per-service variable, then AWS_ENDPOINT_URL, then the regional AWS endpoint', (t) => {
  t.is(resolveAwsEndpoint('ssm', 'eu-west-1', {}).href, 'https://ssm.eu-west-1.amazonaws.com/');
  t.is(resolveAwsEndpoint('sts', 'cn-north-1', {}).href, 'https://sts.cn-north-1.amazonaws.com.cn/');
  t.is(resolveAwsEndpoint('sts', undefined, {}).href, 'https://sts.amazonaws.com/');
  t.is(resolveAwsEndpoint('secretsmanager', 'us-east-1', { AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }).href, 'http://127.0.0.1:5000/');
  t.is(resolveAwsEndpoint('secretsmanager', 'us-east-1', { AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://b' }).href, 'http://b/');
  t.is(readArnRegion('arn:aws:secretsmanager:eu-central-1:123456789012:secret:app-AbCdEf'), 'eu-central-1');
  t.is(readArnRegion('team/app'), undefined);
});

test('json errors: the type without namespace; throttling and 5xx are transient, not-found terminal', async (t) => {
  t.is(readJsonErrorType(undefined, { __type: 'com.amazonaws.secretsmanager#ResourceNotFoundException' }), 'ResourceNotFoundException');
  t.is(readJsonErrorType('ThrottlingException:http://internal.amazon.com/', {}), 'ThrottlingException');
  const call = (response: HttpResponse) =>
    callAwsJson(
      { service: 'secretsmanager', target: 'secretsmanager.GetSecretValue', body: {}, region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
      { sendHttp: async () => response, now, env: {} },
    );
  const notFound = await t.throwsAsync(call(json(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." })));
  t.regex(notFound.message, /secretsmanager GetSecretValue failed: ResourceNotFoundException: Secrets Manager can't find/);
  t.false(isTransient(notFound));
  t.true(isTransient(await t.throwsAsync(call(json(400, { __type: 'ThrottlingException' })))));
  t.true(isTransient(await t.throwsAsync(call(json(503, {})))));
  t.false(isTransient(await t.throwsAsync(call({ status: 200, headers: {}, body: 'not json' }))));
});

test('credentials: static keys first, then IRSA through an unsigned AssumeRoleWithWebIdentity', async (t) => {
  const unused = async (): Promise<HttpResponse> => t.fail('no request for static keys');
  const statics = await fetchAwsCredentials('us-east-1', { env: { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_SESSION_TOKEN: 'ST' }, now, sendHttp: unused, readFile: async () => '' });
  t.deepEqual(statics, { source: 'environment', credentials: { accessKeyId: 'AK', secretAccessKey: 'SK', sessionToken: 'ST' } });

  const requests: HttpRequest[] = [];
  const env = { AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/app', AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token' };
  const xml = '<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>sk&amp;1</SecretAccessKey><SessionToken>tok</SessionToken></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>';
  const irsa = await fetchAwsCredentials('eu-west-1', {
    env,
    now,
    readFile: async (path) => (path === env.AWS_WEB_IDENTITY_TOKEN_FILE ? 'jwt-token\n' : ''),
    sendHttp: async (request) => {
      requests.push(request);
      return { status: 200, headers: {}, body: xml };
    },
  });
  t.deepEqual(irsa, { source: 'web-identity', credentials: { accessKeyId: 'ASIA1', secretAccessKey: 'sk&1', sessionToken: 'tok' } });
  t.is(requests[0]?.url.href, 'https://sts.eu-west-1.amazonaws.com/');
  t.is(requests[0]?.headers.authorization, undefined);
  const form = new URLSearchParams(requests[0]?.body);
  t.is(form.get('Action'), 'AssumeRoleWithWebIdentity');
  t.is(form.get('RoleArn'), env.AWS_ROLE_ARN);
  t.is(form.get('WebIdentityToken'), 'jwt-token');
  t.regex(form.get('RoleSessionName') ?? '', /^piggy-env-\d+$/);
});

test('credentials: STS errors carry the AWS code; none configured is a terminal error', async (t) => {
  const error = t.throws(() => parseAssumeRoleResponse(400, '<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>bad token</Message></Error></ErrorResponse>'));
  t.regex(error.message, /sts AssumeRoleWithWebIdentity failed: InvalidIdentityToken: bad token/);
  t.true(isTransient(t.throws(() => parseAssumeRoleResponse(400, '<Error><Code>IDPCommunicationError</Code></Error>'))));
  const none = await t.throwsAsync(fetchAwsCredentials('us-east-1', { env: {}, now, sendHttp: async () => json(200, {}), readFile: async () => '' }));
  t.is((none as Error & { code: string }).code, 'ERR_ENV_AWS_CREDENTIALS');
});

test('credentials: EKS Pod Identity container credentials with the token file', async (t) => {
  const env = { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials', AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token' };
  let seen: HttpRequest | undefined;
  const resolved = await fetchAwsCredentials('us-east-1', {
    env,
    now,
    readFile: async () => 'pod-token',
    sendHttp: async (request) => {
      seen = request;
      return json(200, { AccessKeyId: 'A', SecretAccessKey: 'S', Token: 'T', Expiration: '2026-02-13T06:00:00Z' });
    },
  });
  t.deepEqual(resolved, { source: 'container', credentials: { accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T' } });
  t.is(seen?.headers.authorization, 'pod-token');
  t.is(seen?.method, 'GET');
});

test('ssm: every page, recursive and decrypted, last path element as key (a later one wins)', async (t) => {
  const bodies: Record<string, unknown>[] = [];
  const pages = [
    { Parameters: [{ Name: '/app/prod/DB', Value: '1' }, { Name: '/app/prod/nested/DB', Value: '2' }], NextToken: 't1' },
    { Parameters: [{ Name: '/app/prod/API', Value: '3' }] },
  ];
  const parameters = await fetchParametersByPath(
    { path: '/app/prod', region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
    {
      env: {},
      now,
      sendHttp: async (request) => {
        t.is(request.headers['x-amz-target'], 'AmazonSSM.GetParametersByPath');
        bodies.push(JSON.parse(request.body ?? '{}') as Record<string, unknown>);
        return json(200, pages[bodies.length - 1]);
      },
    },
  );
  t.deepEqual(bodies, [
    { Path: '/app/prod', Recursive: true, WithDecryption: true, MaxResults: 10 },
    { Path: '/app/prod', Recursive: true, WithDecryption: true, MaxResults: 10, NextToken: 't1' },
  ]);
  t.deepEqual(buildParameterValues(parameters), { DB: '2', API: '3' });
});

test('secret values: a JSON object gives one key per field (non-strings as JSON text); anything else is refused without its content', (t) => {
  t.deepEqual(buildSecretValues('s', { secretString: '{"user":"u","port":5432,"tls":true,"opt":null,"obj":{"a":1}}' }), {
    user: 'u',
    port: '5432',
    tls: 'true',
    opt: 'null',
    obj: '{"a":1}',
  });
  const plain = t.throws(() => buildSecretValues('team/app', { secretString: 'hunter2' }));
  t.false(plain.message.includes('hunter2'));
  t.is((plain as Error & { code: string }).code, 'ERR_ENV_SECRET_FORMAT');
  t.throws(() => buildSecretValues('team/app', { secretBinary: 'AAEC' }), { message: /binary/ });
  t.deepEqual(buildFileContent('s', { secretBinary: Buffer.from([0, 1, 2]).toString('base64') }), Buffer.from([0, 1, 2]));
  t.deepEqual(buildFileContent('s', { secretString: 'raw text' }), Buffer.from('raw text'));
});

test('standalone config: SSM wins; version id, stage, or Piggy\'s legacy variable; region from PIGGY_AWS_REGION, the ARN, then AWS_REGION', (t) => {
  const ssm = parseStandaloneConfig({ PIGGY_AWS_SSM_PARAMETER_PATH: 'demo/sample', PIGGY_AWS_SECRET_NAME: 'x', AWS_REGION: 'us-east-1' });
  t.deepEqual(ssm, { ok: true, config: { source: { kind: 'ssm', path: '/demo/sample' }, region: 'us-east-1' } });
  const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCdEf';
  t.deepEqual(parseStandaloneConfig({ PIGGY_AWS_SECRET_NAME: arn, AWS_REGION: 'us-east-1' }), {
    ok: true,
    config: { source: { kind: 'secretsmanager', secretId: arn, version: { kind: 'stage', value: 'AWSCURRENT' } }, region: 'eu-west-1' },
  });
  const id = parseStandaloneConfig({ PIGGY_AWS_SECRET_NAME: 'n', PIGGY_AWS_REGION: 'ap-south-1', PIGGY_AWS_SECRET_VERSION_ID: 'c43e66cb-1234-4f4d-9a3b-1a2b3c4d5e6f' });
  t.like(id, { ok: true, config: { region: 'ap-south-1', source: { version: { kind: 'id' } } } });
  t.like(parseStandaloneConfig({ PIGGY_AWS_SECRET_NAME: 'n', AWS_DEFAULT_REGION: 'x-1', PIGGY_AWS_SECRET_VERSION_STAGE: 'AWSPREVIOUS' }), { ok: true, config: { source: { version: { kind: 'stage', value: 'AWSPREVIOUS' } } } });
  t.like(parseStandaloneConfig({ PIGGY_AWS_SECRET_NAME: 'n', AWS_REGION: 'r', PIGGY_AWS_SECRET_VERSION: 'c43e66cb-1234-4f4d-9a3b-1a2b3c4d5e6f' }), { ok: true, config: { source: { version: { kind: 'id' } } } });
  t.like(parseStandaloneConfig({ PIGGY_AWS_SECRET_NAME: 'n', AWS_REGION: 'r', PIGGY_AWS_SECRET_VERSION: 'AWSPENDING' }), { ok: true, config: { source: { version: { kind: 'stage', value: 'AWSPENDING' } } } });
  const bad = parseStandaloneConfig({ PIGGY_AWS_SECRET_VERSION_ID: 'a', PIGGY_AWS_SECRET_VERSION_STAGE: 'b' });
  t.is(bad.ok ? 0 : bad.problems.length, 3);
});

test('standalone fetch: credentials, then GetSecretValue by VersionId with SigV4', async (t) => {
  const parsed = parseStandaloneConfig({ PIGGY_AWS_SECRET_NAME: 'team/app', PIGGY_AWS_REGION: 'eu-west-1', PIGGY_AWS_SECRET_VERSION_ID: 'c43e66cb-1234-4f4d-9a3b-1a2b3c4d5e6f' });
  if (!parsed.ok) return t.fail();
  let request: HttpRequest | undefined;
  const result = await fetchStandaloneSecrets(parsed.config, {
    env: { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK' },
    now,
    readFile: async () => '',
    sendHttp: async (sent) => {
      request = sent;
      return json(200, { SecretString: '{"db":"v"}', VersionId: 'c43e66cb-1234-4f4d-9a3b-1a2b3c4d5e6f' });
    },
  });
  t.deepEqual(result, { values: { db: 'v' }, credentialSource: 'environment' });
  t.is(request?.url.href, 'https://secretsmanager.eu-west-1.amazonaws.com/');
  t.deepEqual(JSON.parse(request?.body ?? ''), { SecretId: 'team/app', VersionId: 'c43e66cb-1234-4f4d-9a3b-1a2b3c4d5e6f' });
  t.regex(request?.headers.authorization ?? '', /^AWS4-HMAC-SHA256 Credential=AK\/20260213\/eu-west-1\/secretsmanager\/aws4_request/);
});
