/**
 * Which pull-secret credentials apply to an image, following kubelet's keyring: keys are hosts or
 * URLs (scheme and `/v1/`, `/v2/` ignored, `https://index.docker.io/v1/` is Docker Hub), may carry a
 * path prefix (`registry.io/team`) and `*` globs per host label (`*.example.com`); the most specific
 * keys come first. Pure.
 */
import { DOCKER_HUB, type ImageReference } from './reference.ts';
import type { DockerAuthEntry, DockerConfigJson } from './types.ts';
import { parseJsonObject } from '../../shared/json.ts';

export type Credential =
  | { readonly kind: 'basic'; readonly username: string; readonly password: string }
  /** An OAuth2 refresh token (docker config `identitytoken`), exchanged at the Bearer realm. */
  | { readonly kind: 'refresh'; readonly username: string; readonly refreshToken: string }
  /** A ready-made Bearer token (docker config `registrytoken`). */
  | { readonly kind: 'bearer'; readonly token: string };

/** How many matching credentials are tried, at most, before the image is reported unauthorized. */
export const MAX_CREDENTIALS = 8;

interface ParsedKey {
  readonly host: string;
  readonly port: string | undefined;
  readonly path: string;
  readonly glob: boolean;
}

const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

export function parseCredentialKey(key: string): ParsedKey | undefined {
  let text = key.trim().replace(/^https?:\/\//i, '');
  if (text === '') return undefined;
  const slash = text.indexOf('/');
  let path = slash === -1 ? '' : text.slice(slash + 1);
  text = slash === -1 ? text : text.slice(0, slash);
  path = path.replace(/^v[12](?:\/|$)/, '').replace(/\/+$/, '');
  const portMatch = /^(.*?)(?::(\d+))?$/.exec(text);
  const host = (portMatch?.[1] ?? text).toLowerCase();
  if (host === '') return undefined;
  return {
    host: HUB_ALIASES.has(host) ? DOCKER_HUB : host,
    port: portMatch?.[2],
    path,
    glob: host.includes('*'),
  };
}

function splitHost(registry: string): { host: string; port: string | undefined } {
  const match = /^(.*?)(?::(\d+))?$/.exec(registry);
  return { host: (match?.[1] ?? registry).toLowerCase(), port: match?.[2] };
}

function globLabel(pattern: string, label: string): boolean {
  if (!pattern.includes('*')) return pattern === label;
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^.]*');
  return new RegExp(`^${source}$`).test(label);
}

export function isCredentialKeyMatch(key: ParsedKey, reference: Pick<ImageReference, 'registry' | 'repository'>): boolean {
  const image = splitHost(reference.registry);
  if (key.port !== image.port) return false;
  const patternLabels = key.host.split('.');
  const labels = image.host.split('.');
  if (patternLabels.length !== labels.length) return false;
  if (!patternLabels.every((pattern, i) => globLabel(pattern, labels[i] ?? ''))) return false;
  return key.path === '' || reference.repository === key.path || reference.repository.startsWith(`${key.path}/`);
}

export function parseAuthEntry(entry: Readonly<Record<string, unknown>> | DockerAuthEntry): Credential | undefined {
  if (typeof entry.registrytoken === 'string' && entry.registrytoken !== '') return { kind: 'bearer', token: entry.registrytoken };
  let username = typeof entry.username === 'string' ? entry.username : '';
  let password = typeof entry.password === 'string' ? entry.password : '';
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return undefined;
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return { kind: 'refresh', username, refreshToken: entry.identitytoken };
  }
  if (username === '' && password === '') return undefined;
  return { kind: 'basic', username, password };
}

function sameCredential(a: Credential, b: Credential): boolean {
  if (a.kind === 'basic' && b.kind === 'basic') return a.username === b.username && a.password === b.password;
  if (a.kind === 'refresh' && b.kind === 'refresh') return a.refreshToken === b.refreshToken;
  if (a.kind === 'bearer' && b.kind === 'bearer') return a.token === b.token;
  return false;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The credentials to try for an image, most specific key first, duplicates removed, at most MAX_CREDENTIALS. */
export function planCredentials(
  reference: Pick<ImageReference, 'registry' | 'repository'>,
  configs: readonly DockerConfigJson[],
): Credential[] {
  const matches: { credential: Credential; specificity: number; order: number }[] = [];
  let order = 0;
  for (const config of configs) {
    const auths: unknown = config.auths;
    if (!isRecord(auths)) continue;
    for (const [rawKey, entry] of Object.entries(auths)) {
      order += 1;
      const key = parseCredentialKey(rawKey);
      if (key === undefined || !isRecord(entry) || !isCredentialKeyMatch(key, reference)) continue;
      const credential = parseAuthEntry(entry);
      if (credential === undefined) continue;
      matches.push({ credential, specificity: key.path.length * 2 + (key.glob ? 0 : 1), order });
    }
  }
  matches.sort((a, b) => b.specificity - a.specificity || a.order - b.order);
  const unique: Credential[] = [];
  for (const { credential } of matches) {
    if (!unique.some((known) => sameCredential(known, credential))) unique.push(credential);
  }
  return unique.slice(0, MAX_CREDENTIALS);
}

/**
 * Reads a pull Secret's payload: `.dockerconfigjson` (`{"auths": {...}}`) or legacy `.dockercfg`
 * (the auths map itself). Returns undefined for anything else; never throws, never echoes content.
 */
export function parseDockerConfig(text: string): DockerConfigJson | undefined {
  const record = parseJsonObject(text);
  if (record === undefined) return undefined;
  const auths = 'auths' in record ? record.auths : record;
  if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) return undefined;
  return { auths: auths as Record<string, DockerAuthEntry> };
}
