import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificate {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
}

/** A self-signed serving certificate for 127.0.0.1/localhost, made with the openssl CLI. */
export async function makeServingCertificate(dir?: string, commonName = 'piggy-test'): Promise<TestCertificate> {
  const target = dir ?? (await mkdtemp(join(tmpdir(), 'piggy-tls-')));
  const certFile = join(target, 'tls.crt');
  const keyFile = join(target, 'tls.key');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${commonName}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { dir: target, certFile, keyFile, cert: await readFile(certFile, 'utf8') };
}
