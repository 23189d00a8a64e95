// WEBHOOK_CERT_MANAGEMENT=files: the CA bundle injected into pods comes from a file and follows it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parseCaBundle, startCaBundleFile } from '../../src/shared/ca-bundle-file.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { buildCertificateAuthority, buildServingCertificate } from '../../src/shared/pki.ts';
import { eventually } from '../helpers/stack.ts';

const now = Date.now();
const ca = (name: string) => buildCertificateAuthority({ commonName: name, notBefore: new Date(now), notAfter: new Date(now + 86_400_000) });
const lines: string[] = [];
const log = createLogger({ level: 'info', destination: new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }) });

test('a bundle is one or more CA certificates; anything else is named', (t) => {
  const first = ca('first');
  const leaf = buildServingCertificate({ issuer: first, commonName: 'x', dnsNames: ['x'], ipAddresses: [], notBefore: new Date(now), notAfter: new Date(now + 1000) });
  t.deepEqual(parseCaBundle(`# comment\n${first.certPem}`), { ok: true, bundle: first.certPem });
  t.deepEqual(parseCaBundle(''), { ok: false, problem: 'no PEM certificate' });
  t.deepEqual(parseCaBundle(`${first.certPem}${leaf.certPem}`), { ok: false, problem: 'a certificate is unreadable or not a CA' });
});

test('the file is read at start, followed when it changes, and a broken rewrite keeps the last good bundle', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'piggy-ca-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'ca.crt');
  await t.throwsAsync(startCaBundleFile({ file, intervalMs: 50, log }), { message: /cannot read/ });
  const first = ca('first');
  await writeFile(file, first.certPem);
  const bundle = await startCaBundleFile({ file, intervalMs: 50, log });
  t.teardown(() => bundle.stop());
  t.is(bundle.caBundle(), first.certPem);
  const second = ca('second');
  await writeFile(file, `${first.certPem}${second.certPem}`);
  await eventually(async () => {
    if (bundle.caBundle() !== `${first.certPem}${second.certPem}`) throw new Error('not reloaded yet');
  }, { timeoutMs: 5_000, intervalMs: 20 });
  lines.length = 0;
  await writeFile(file, 'garbage');
  await eventually(async () => {
    if (!lines.some((line) => line.includes('webhook ca bundle reload skipped'))) throw new Error('the garbage was not read yet');
  }, { timeoutMs: 5_000, intervalMs: 20 });
  t.is(bundle.caBundle(), `${first.certPem}${second.certPem}`, 'the last good bundle stays');
});
