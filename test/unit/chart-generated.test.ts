// One source: deploy/ and the chart's crds/ are generated (npm run generate:deploy) and must not
// drift; the packaged chart carries the CRD of crds/; the chart README lists every value.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { CHART_DIR, CRDS_DIR, buildGeneratedFiles, readGeneratedFiles, renderChart } from '../../scripts/chart-render.ts';
import { run } from '../../scripts/local/procs.ts';
import { helmBinary, parseManifests } from '../helpers/chart.ts';

test('deploy/ and charts/piggy/crds/ are what `npm run generate:deploy` writes (no drift)', async (t) => {
  const wanted = await buildGeneratedFiles(helmBinary());
  const current = await readGeneratedFiles();
  t.true(wanted.has('deploy/controller.yaml') && wanted.has('charts/piggy/crds/awssecrets.piggysec.com.yaml'), [...wanted.keys()].join(', '));
  t.deepEqual([...current.keys()].sort(), [...wanted.keys()].sort(), 'the same files: run npm run generate:deploy');
  for (const [file, text] of wanted) t.is(current.get(file), text, `${file} differs from the chart's render: run npm run generate:deploy`);
});

test('helm package carries the CRD of crds/, and helm template --include-crds renders it', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'piggy-package-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const packaged = await run(helmBinary(), ['package', CHART_DIR, '--destination', dir]);
  t.is(packaged.code, 0, packaged.stderr);
  t.notRegex(packaged.stderr, /symbolic link/, 'no symlinks in the chart');
  const archive = path.join(dir, 'piggy-0.1.0.tgz');
  const source = parseManifests(await readFile(path.join(CRDS_DIR, 'awssecrets.piggysec.com.yaml'), 'utf8'));
  const shown = await run(helmBinary(), ['show', 'crds', archive]);
  t.deepEqual(parseManifests(shown.stdout), source);
  const rendered = await renderChart(helmBinary(), { chart: archive, set: { 'aws.region': 'eu-west-1' }, includeCrds: true });
  t.is(rendered.code, 0, rendered.stderr);
  t.deepEqual(parseManifests(rendered.stdout).filter((m) => m.kind === 'CustomResourceDefinition'), source);
});

/** Dotted paths of values.yaml: leaves, empty maps and lists (free-form values). */
function valuePaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return [prefix];
  // Resource maps and security contexts are documented as one value.
  if (['resources', 'piggyEnv.resources', 'podSecurityContext', 'securityContext'].includes(prefix)) return [prefix];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => valuePaths(inner, prefix === '' ? key : `${prefix}.${key}`));
}

test('charts/piggy/README.md has a row for every value of values.yaml', async (t) => {
  const values = parse(await readFile(path.join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const readme = await readFile(path.join(CHART_DIR, 'README.md'), 'utf8');
  const rows = new Set([...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]));
  const paths = valuePaths(values);
  t.true(paths.length > 40, `${paths.length} values found`);
  t.deepEqual(paths.filter((p) => !rows.has(p)), [], 'values without a README row');
  t.deepEqual([...rows].filter((row) => row !== undefined && !paths.includes(row)), [], 'README rows that are not values');
});
