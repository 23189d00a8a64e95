import { GetParametersByPathCommand, type Parameter, type SSMClient } from '@aws-sdk/client-ssm';
import { AppError } from '../shared/errors.ts';
import type { AwsCaller } from './aws-call.ts';
import { AWS_ERROR_CODES } from './aws-errors.ts';

/** SSM Parameter Store by path, with Piggy's rules. */

/** AWS's page size limit for GetParametersByPath (Piggy asks for the same). */
export const SSM_PAGE_SIZE = 10;
/** A guard against a NextToken that never ends: 1,000 pages are 10,000 parameters. */
export const SSM_MAX_PAGES = 1000;

/**
 * Piggy's rule: the key is the parameter name's last path element (`/app/prod/DB_HOST` → `DB_HOST`);
 * keys from nested sub-paths collide and the later parameter wins. StringList values stay the raw
 * comma-separated text. The result is frozen (it is shared by every caller of the cache).
 */
export function buildParameterMap(parameters: readonly Pick<Parameter, 'Name' | 'Value'>[]): Readonly<Record<string, string>> {
  const byKey = new Map<string, string>();
  for (const parameter of parameters) {
    const key = (parameter.Name ?? '').split('/').pop() ?? '';
    if (key === '') continue;
    byKey.set(key, parameter.Value ?? '');
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays an ordinary key.
  return Object.freeze(Object.fromEntries(byKey));
}

/** Every page of GetParametersByPath (recursive, decrypted); each page is one AWS call. */
export async function fetchParameterPages(caller: AwsCaller, client: SSMClient, region: string, path: string): Promise<Parameter[]> {
  const parameters: Parameter[] = [];
  let nextToken: string | undefined;
  for (let page = 0; page < SSM_MAX_PAGES; page += 1) {
    const command = new GetParametersByPathCommand({
      Path: path,
      Recursive: true,
      WithDecryption: true,
      MaxResults: SSM_PAGE_SIZE,
      ...(nextToken === undefined ? {} : { NextToken: nextToken }),
    });
    const output = await caller.call({ api: 'GetParametersByPath', region, path }, command, (options) => client.send(command, options));
    parameters.push(...(output.Parameters ?? []));
    nextToken = output.NextToken === '' ? undefined : output.NextToken;
    if (nextToken === undefined) return parameters;
  }
  throw new AppError(AWS_ERROR_CODES.invalidRequest, `more than ${SSM_MAX_PAGES * SSM_PAGE_SIZE} parameters under "${path}" in ${region}`, {
    details: { api: 'GetParametersByPath', region, path, pages: SSM_MAX_PAGES },
  });
}
