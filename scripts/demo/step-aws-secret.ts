// Step: a Secrets Manager secret with two versions, as a rotation leaves it: version 2 is AWSCURRENT.
import { randomBytes } from 'node:crypto';
import { createSecretVersions } from '../local/moto-secrets.ts';
import { AWS_SECRET_NAME, need, type DemoContext, type DemoStep } from './context.ts';
import { command, good, maskValue, show, table } from './narrate.ts';

function buildDatabaseCredentials(): { username: string; password: string; port: number } {
  return { username: 'app', password: randomBytes(18).toString('base64url'), port: 5432 };
}

export const awsSecretStep: DemoStep = {
  title: `Create the Secrets Manager secret ${AWS_SECRET_NAME} with two versions (a rotation)`,
  async run(ctx: DemoContext) {
    const client = need(ctx.secretsManager, 'secretsManager');
    const values = [buildDatabaseCredentials(), buildDatabaseCredentials()];
    command(`aws secretsmanager create-secret --name ${AWS_SECRET_NAME} --secret-string '{"username":…,"password":…,"port":5432}'`);
    command(`aws secretsmanager put-secret-value --secret-id ${AWS_SECRET_NAME} --secret-string '{…new password…}'`);
    const versions = await createSecretVersions(client, AWS_SECRET_NAME, values.map((value) => JSON.stringify(value)));
    ctx.versions = versions;
    const rows = versions.map((id, index) => {
      const value = values[index] ?? {};
      const fields = Object.entries(value).map(([key, field]) => `${key}=${maskValue(String(field))}`).join(' ');
      return [String(index + 1), id, index === versions.length - 1 ? 'AWSCURRENT' : 'AWSPREVIOUS', fields];
    });
    show(table(['#', 'VERSION ID', 'STAGE', 'VALUE (masked)'], rows));
    good('two versions; the AWSSecret below pins version 1, as if it was written before the rotation');
  },
};
