// ECR: the controller's credentials (the SDK chain, pointed at moto by the test runner) get a token
// from GetAuthorizationToken, which the resolver sends as Basic to an ECR host.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { createAwsClients } from '../../src/aws/clients.ts';
import { createEcrCredentials } from '../../src/webhook/image/ecr.ts';
import { createImageResolver } from '../../src/webhook/image/resolver.ts';
import { pushImage } from '../helpers/registry.ts';
import { registryHost, uniqueName } from '../helpers/stack.ts';

const ACCOUNT = '123456789012';
const region = (): string => process.env.AWS_REGION ?? 'us-east-1';

test('GetAuthorizationToken from the emulator gives Basic credentials, cached until shortly before expiry', async (t) => {
  const clients = createAwsClients(region());
  const calls: string[] = [];
  // moto's tokens expire at 2015-01-01T00:00:00Z: the clock is set half a day before that.
  const expiry = Date.parse('2015-01-01T00:00:00Z');
  let now = expiry - 12 * 3_600_000;
  const credentials = createEcrCredentials({ ecr: (r) => clients.ecr(r), now: () => now, onRequest: (outcome) => calls.push(outcome) });
  const host = { accountId: ACCOUNT, region: region() };
  const signal = AbortSignal.timeout(10_000);
  try {
    const first = await credentials.credential(host, signal);
    if (first.kind !== 'basic') return t.fail(`a ${first.kind} credential`);
    t.is(first.username, 'AWS');
    t.true(first.password.length > 0);
    await Promise.all(Array.from({ length: 10 }, () => credentials.credential(host, signal)));
    t.deepEqual(calls, ['200'], 'one GetAuthorizationToken call for all callers');
    now = expiry - 5 * 60_000 - 1;
    await credentials.credential(host, signal);
    t.deepEqual(calls, ['200'], 'still cached until 5 minutes before expiry');
    now += 1;
    await credentials.credential(host, signal);
    t.deepEqual(calls, ['200', '200'], 'a new token once the old one is about to expire');
  } finally {
    clients.destroy();
  }
});

test('an image on an ECR host resolves with the controller ECR token and no pull secret', async (t) => {
  const clients = createAwsClients(region());
  const expected = await createEcrCredentials({ ecr: (r) => clients.ecr(r), now: Date.now }).credential(
    { accountId: ACCOUNT, region: region() },
    AbortSignal.timeout(10_000),
  );
  if (expected.kind !== 'basic') return t.fail('no basic credential from ECR');
  const wanted = `Basic ${Buffer.from(`${expected.username}:${expected.password}`).toString('base64')}`;

  // Stands in for the ECR endpoint: Basic challenge like ECR, then proxies to the stack's registry.
  const upstream = registryHost();
  const authorizations: (string | undefined)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    authorizations.push(req.headers.authorization);
    if (req.headers.authorization !== wanted) {
      res.writeHead(401, { 'www-authenticate': `Basic realm="https://${ACCOUNT}.dkr.ecr.${region()}.amazonaws.com/",service="ecr.amazonaws.com"` });
      res.end();
      return;
    }
    void fetch(`http://${upstream}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers: { accept: req.headers.accept ?? '*/*' } }).then(async (reply) => {
      const headers: Record<string, string> = {};
      reply.headers.forEach((value, key) => {
        if (key !== 'content-encoding' && key !== 'transfer-encoding') headers[key] = value;
      });
      res.writeHead(reply.status, headers);
      res.end(Buffer.from(await reply.arrayBuffer()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const local = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const ecrHost = `${ACCOUNT}.dkr.ecr.${region()}.amazonaws.com`;
  const routed: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.host !== ecrHost || url.protocol !== 'https:') return Promise.reject(new Error(`unexpected request to ${url.origin}`));
    return fetch(`http://${local}${url.pathname}${url.search}`, init);
  };
  try {
    const repo = `${uniqueName('ecr')}/app`;
    await pushImage(upstream, repo, 'v1', { entrypoint: ['/from/ecr'] });
    const resolver = createImageResolver({ resolveTimeoutMs: 10_000 }, { fetch: routed, aws: clients });
    const image = await resolver.resolve(`${ecrHost}/${repo}:v1`, { namespace: 'team', pullSecrets: [] });
    t.deepEqual(image.entrypoint, ['/from/ecr']);
    t.true(authorizations.includes(wanted));
    const unknownRegion = createImageResolver({ resolveTimeoutMs: 10_000 }, { fetch: routed });
    const denied = await t.throwsAsync(unknownRegion.resolve(`${ecrHost}/${repo}:v1`, { namespace: 'team', pullSecrets: [] }));
    t.is((denied as { code?: string }).code, 'ERR_IMAGE_UNAUTHORIZED', 'without AWS clients there is no ECR token');
    t.false(denied.message.includes(expected.password));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    clients.destroy();
  }
});
