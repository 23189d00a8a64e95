import test from 'ava';
import { splitPemCertificates } from '../../src/env/http-request.ts';

const block = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----`;

test('splitPemCertificates: one entry per certificate of a bundle; text around them and other PEM blocks are dropped', (t) => {
  const bundle = `# the controller's CA\n${block('QUJD\nREVG')}\n\n${block('R0hJ')}\n-----BEGIN PRIVATE KEY-----\nS0xN\n-----END PRIVATE KEY-----\n`;
  t.deepEqual(splitPemCertificates(bundle), [block('QUJD\nREVG'), block('R0hJ')]);
  t.deepEqual(splitPemCertificates('no certificate here'), []);
});
