import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import test from 'ava';
import { buildSignedHeaders, encodeRfc3986, formatAmzDate } from '../../src/env/sigv4.ts';

const example = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

test('sigv4: the AWS test suite\'s get-vanilla request', (t) => {
  const headers = buildSignedHeaders({
    method: 'GET',
    url: new URL('https://example.amazonaws.com/'),
    headers: {},
    body: '',
    region: 'us-east-1',
    service: 'service',
    credentials: example,
    now: new Date('2015-08-30T12:36:00Z'),
  });
  t.is(
    headers.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
  );
  t.is(headers['x-amz-date'], '20150830T123600Z');
});

type SourceData = string | ArrayBuffer | ArrayBufferView;
const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string' ? Buffer.from(data, 'utf8') : ArrayBuffer.isView(data) ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.from(data);

/** node:crypto in the shape @smithy/signature-v4 wants. */
class NodeSha256 {
  readonly #hash: { update(data: Buffer): unknown; digest(): Buffer };
  constructor(secret?: SourceData) {
    this.#hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: SourceData): void {
    this.#hash.update(toBuffer(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.#hash.digest()));
  }
}

test('sigv4: a JSON 1.1 call with a session token signs exactly like the AWS SDK\'s signer', async (t) => {
  const now = new Date('2026-02-13T09:08:07Z');
  const credentials = { ...example, sessionToken: 'IQoJb3JpZ2luX2VjE+/token==' };
  const body = JSON.stringify({ SecretId: 'team/app db', VersionStage: 'AWSCURRENT' });
  const url = new URL('http://127.0.0.1:4566/');
  const base = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'secretsmanager.GetSecretValue' };
  const ours = buildSignedHeaders({ method: 'POST', url, headers: base, body, region: 'eu-west-1', service: 'secretsmanager', credentials, now });
  const signer = new SignatureV4({ credentials, region: 'eu-west-1', service: 'secretsmanager', sha256: NodeSha256, applyChecksum: false });
  const signed = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: 4566, path: '/', query: {}, headers: { ...base, host: '127.0.0.1:4566' }, body },
    { signingDate: now },
  );
  t.is(ours.authorization, signed.headers.authorization);
  t.is(ours['x-amz-security-token'], credentials.sessionToken);
});

test('sigv4: RFC 3986 encoding and the amz date format', (t) => {
  t.is(encodeRfc3986("a b/c!'()*~"), 'a%20b%2Fc%21%27%28%29%2A~');
  t.is(formatAmzDate(new Date('2026-01-02T03:04:05.678Z')), '20260102T030405Z');
});
