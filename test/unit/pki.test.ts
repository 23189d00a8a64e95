// X.509 generation (src/shared/pki.ts, src/shared/der.ts): what node:crypto, OpenSSL and a real TLS
// handshake make of the certificates.
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { promisify } from 'node:util';
import test from 'ava';
import { derOid, derSmallInteger, derTime, derTlv, derUnsignedInteger, readDerChildren, readDerElement } from '../../src/shared/der.ts';
import {
  buildCertificateAuthority,
  buildServingCertificate,
  coversNames,
  isIssuedBy,
  isKeyOf,
  parseCertificate,
  splitPemCertificates,
  type KeyAndCertificate,
} from '../../src/shared/pki.ts';

const run = promisify(execFile);
const HOUR = 3_600_000;
const NOW = Date.UTC(2030, 0, 15, 12, 0, 0);

const ca = (commonName = 'test-ca', notBefore = NOW, notAfter = NOW + 87_600 * HOUR): KeyAndCertificate =>
  buildCertificateAuthority({ commonName, notBefore: new Date(notBefore), notAfter: new Date(notAfter) });

const serving = (issuer: KeyAndCertificate, notAfter = NOW + 24 * HOUR): KeyAndCertificate =>
  buildServingCertificate({
    issuer,
    commonName: 'piggy.piggy-system.svc',
    dnsNames: ['piggy', 'piggy.piggy-system', 'piggy.piggy-system.svc', 'piggy.piggy-system.svc.cluster.local', 'localhost'],
    ipAddresses: ['127.0.0.1', '::1', '2001:db8::7:0:1', '::ffff:10.1.2.3'],
    notBefore: new Date(NOW - 5 * 60_000),
    notAfter: new Date(notAfter),
  });

test('DER: integers are minimal and positive, lengths switch to the long form at 128', (t) => {
  t.is(derUnsignedInteger(Buffer.from([0x00, 0x00, 0x7f])).toString('hex'), '02017f');
  t.is(derUnsignedInteger(Buffer.from([0x80])).toString('hex'), '02020080');
  t.is(derUnsignedInteger(Buffer.from([0x00])).toString('hex'), '020100');
  t.is(derSmallInteger(2).toString('hex'), '020102');
  t.is(derSmallInteger(300).toString('hex'), '0202012c');
  t.is(derTlv(0x04, Buffer.alloc(127)).subarray(0, 2).toString('hex'), '047f');
  t.is(derTlv(0x04, Buffer.alloc(128)).subarray(0, 3).toString('hex'), '048180');
  t.is(derTlv(0x04, Buffer.alloc(300)).subarray(0, 4).toString('hex'), '0482012c');
  t.is(derOid('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
  const nested = derTlv(0x30, Buffer.concat([derSmallInteger(1), derTlv(0x04, Buffer.alloc(200))]));
  const children = readDerChildren(readDerElement(nested).content);
  t.deepEqual(children.map((child) => [child.tag, child.content.length]), [[0x02, 1], [0x04, 200]]);
  t.throws(() => readDerElement(nested.subarray(0, 10)), { message: /truncated/ });
});

test('DER: UTCTime until 2049, GeneralizedTime from 2050, whole seconds', (t) => {
  t.is(derTime(new Date(Date.UTC(2049, 11, 31, 23, 59, 59, 999))).toString('latin1').slice(2), '491231235959Z');
  t.is(derTime(new Date(Date.UTC(2050, 0, 1, 0, 0, 0))).toString('latin1').slice(2), '20500101000000Z');
  t.is(derTime(new Date(Date.UTC(2049, 0, 1))).at(0), 0x17);
  t.is(derTime(new Date(Date.UTC(2050, 0, 1))).at(0), 0x18);
});

test('a CA is self-signed, a CA, and valid exactly for its window', (t) => {
  const authority = ca('piggy-webhook-ca@1', NOW - 300_000, NOW + 10 * 8_760 * HOUR);
  const x509 = new X509Certificate(authority.certPem);
  t.true(x509.ca);
  t.is(x509.subject, 'CN=piggy-webhook-ca@1');
  t.is(x509.issuer, x509.subject);
  t.true(x509.verify(x509.publicKey));
  t.true(x509.checkPrivateKey(createPrivateKey(authority.keyPem)));
  t.is(x509.validFromDate.getTime(), NOW - 300_000);
  t.is(x509.validToDate.getTime(), NOW + 10 * 8_760 * HOUR);
  t.is(x509.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  t.regex(authority.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
});

test('a serving certificate verifies against its CA, covers its names and IPs, and nothing else', (t) => {
  const authority = ca();
  const leaf = serving(authority);
  const x509 = new X509Certificate(leaf.certPem);
  const caX509 = new X509Certificate(authority.certPem);
  t.false(x509.ca);
  t.true(x509.checkIssued(caX509));
  t.true(x509.verify(caX509.publicKey));
  t.false(x509.verify(new X509Certificate(ca('other').certPem).publicKey), 'another CA did not sign it');
  for (const name of ['piggy', 'piggy.piggy-system', 'piggy.piggy-system.svc', 'piggy.piggy-system.svc.cluster.local', 'localhost']) {
    t.is(x509.checkHost(name, { subject: 'never' }), name);
  }
  t.is(x509.checkHost('other.piggy-system.svc', { subject: 'never' }), undefined);
  t.is(x509.checkHost('piggy.piggy-system.svc', { subject: 'always' }), 'piggy.piggy-system.svc');
  t.truthy(x509.checkIP('127.0.0.1'));
  t.truthy(x509.checkIP('::1'));
  t.truthy(x509.checkIP('2001:db8:0:0:0:7:0:1'));
  t.truthy(x509.checkIP('::ffff:10.1.2.3'));
  t.is(x509.checkIP('10.0.0.1'), undefined);
  t.deepEqual(x509.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage: serverAuth only');
  t.is(x509.validFromDate.getTime(), NOW - 5 * 60_000);
  t.is(x509.validToDate.getTime(), NOW + 24 * HOUR);
  t.true(x509.checkPrivateKey(createPrivateKey(leaf.keyPem)));
  t.not(leaf.keyPem, authority.keyPem);
});

test('the parse helpers agree: issuer, key, names; garbage is undefined', (t) => {
  const authority = ca();
  const other = ca('other');
  const leaf = serving(authority);
  const [caFacts, otherFacts, leafFacts] = [authority, other, leaf].map((item) => parseCertificate(item.certPem));
  if (caFacts === undefined || otherFacts === undefined || leafFacts === undefined) return t.fail('parse failed');
  t.true(isIssuedBy(leafFacts, caFacts));
  t.false(isIssuedBy(leafFacts, otherFacts));
  t.false(isIssuedBy(caFacts, leafFacts), 'a leaf is never an issuer');
  t.true(isKeyOf(leafFacts, leaf.keyPem));
  t.false(isKeyOf(leafFacts, authority.keyPem));
  t.false(isKeyOf(leafFacts, 'not a key'));
  t.true(coversNames(leafFacts, ['piggy.piggy-system.svc'], ['127.0.0.1']));
  t.false(coversNames(leafFacts, ['piggy.other.svc'], []));
  t.false(coversNames(leafFacts, [], ['10.0.0.1']));
  t.is(parseCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), undefined);
  t.deepEqual(splitPemCertificates(`junk\n${authority.certPem}${other.certPem.trimEnd()}`), [authority.certPem, other.certPem]);
});

test('OpenSSL verifies the chain for the TLS server purpose', async (t) => {
  const authority = ca('openssl-ca', Date.now() - HOUR, Date.now() + 48 * HOUR);
  const leaf = buildServingCertificate({
    issuer: authority,
    commonName: 'piggy.piggy-system.svc',
    dnsNames: ['piggy.piggy-system.svc'],
    ipAddresses: ['127.0.0.1'],
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + 24 * HOUR),
  });
  const dir = await mkdtemp(join(tmpdir(), 'piggy-pki-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'ca.pem'), authority.certPem);
  await writeFile(join(dir, 'leaf.pem'), leaf.certPem);
  const verified = await run('openssl', ['verify', '-x509_strict', '-purpose', 'sslserver', '-verify_hostname', 'piggy.piggy-system.svc', '-verify_ip', '127.0.0.1', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]);
  t.regex(verified.stdout, /leaf\.pem: OK/);
  const wrongHost = run('openssl', ['verify', '-verify_hostname', 'evil.example.com', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')]);
  await t.throwsAsync(wrongHost, undefined, 'a name outside the SANs fails');
});

test('a TLS handshake succeeds with the CA and fails without it', async (t) => {
  const authority = ca('handshake-ca', Date.now() - HOUR, Date.now() + 48 * HOUR);
  const leaf = buildServingCertificate({
    issuer: authority,
    commonName: 'piggy.piggy-system.svc',
    dnsNames: ['piggy.piggy-system.svc'],
    ipAddresses: [],
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + HOUR),
  });
  const server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (socket) => socket.end('hello'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const { port } = server.address() as AddressInfo;
  const handshake = (caPem: string | undefined): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'piggy.piggy-system.svc', ca: caPem }, () => {
        socket.once('data', (data: Buffer) => {
          resolve(data.toString());
          socket.end();
        });
      });
      socket.on('error', reject);
    });
  t.is(await handshake(authority.certPem), 'hello');
  t.is(await handshake(`${ca('unrelated').certPem}${authority.certPem}`), 'hello', 'a bundle of two CAs works');
  await t.throwsAsync(handshake(ca('unrelated').certPem), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
});

test('a serving certificate needs at least one name', (t) => {
  t.throws(() => buildServingCertificate({ issuer: ca(), commonName: 'x', dnsNames: [], ipAddresses: [], notBefore: new Date(NOW), notAfter: new Date(NOW + HOUR) }), { message: /at least one name/ });
});
