// Renders charts/piggy with helm: the one source of deploy/ and of the chart's copy of crds/.
// Used by scripts/generate-deploy.ts (writes the files) and by the tests (render, compare, assert).
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { cacheDir, findOnPath, isExecutable, readVersions, repoRoot, run } from './local/procs.ts';

export const CHART_DIR = path.join(repoRoot, 'charts', 'piggy');
export const CHART_CRDS_DIR = path.join(CHART_DIR, 'crds');
export const CRDS_DIR = path.join(repoRoot, 'crds');
export const DEPLOY_DIR = path.join(repoRoot, 'deploy');

/** What deploy/ is rendered with: release piggy in piggy-system, these values, every other value at its default. */
export const DEPLOY_RELEASE = { release: 'piggy', namespace: 'piggy-system' } as const;
export const DEPLOY_VALUES: Readonly<Record<string, string>> = {
  // A placeholder region: the chart requires one. Change AWS_REGION in deploy/controller.yaml.
  'aws.region': 'us-east-1',
  // deploy/namespace.yaml (helm install uses --create-namespace instead).
  'namespace.create': 'true',
};

/** helm: $HELM, else the one scripts/local/build-binaries.sh builds (HELM_VERSION), else PATH. */
export async function findHelm(): Promise<string> {
  const fromEnv = process.env.HELM;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const built = path.join(cacheDir(), `helm-${readVersions().HELM_VERSION ?? ''}`, 'helm');
  if (await isExecutable(built)) return built;
  const onPath = await findOnPath('helm');
  if (onPath !== undefined) return onPath;
  throw new Error(`no helm: run scripts/local/build-binaries.sh helm (builds ${built}) or set HELM`);
}

export interface RenderOptions {
  readonly release?: string;
  readonly namespace?: string;
  /** Values as a nested object (written to a values file, so types survive). */
  readonly values?: Record<string, unknown>;
  /** `--set key=value` pairs. */
  readonly set?: Readonly<Record<string, string>>;
  readonly includeCrds?: boolean;
  readonly chart?: string;
}

export interface RenderResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `helm template` of the chart (or `chart`, e.g. a packaged .tgz); never throws on a failed render. */
export async function renderChart(helm: string, options: RenderOptions = {}, extraArgs: readonly string[] = []): Promise<RenderResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'piggy-chart-'));
  try {
    const valuesFile = path.join(dir, 'values.yaml');
    // YAML 1.1 quoting: helm reads values as YAML 1.1, where an unquoted `off` or `yes` is a boolean.
    await writeFile(valuesFile, stringify(options.values ?? {}, { version: '1.1' }));
    const args = [
      'template',
      options.release ?? DEPLOY_RELEASE.release,
      options.chart ?? CHART_DIR,
      '--namespace',
      options.namespace ?? DEPLOY_RELEASE.namespace,
      '--values',
      valuesFile,
      ...Object.entries(options.set ?? {}).flatMap(([key, value]) => ['--set', `${key}=${value}`]),
      ...(options.includeCrds === true ? ['--include-crds'] : []),
      ...extraArgs,
    ];
    return await run(helm, args);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const yamlFiles = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => /\.ya?ml$/.test(name)).sort();

const deployHeader = (template: string): string =>
  [
    `# GENERATED from charts/piggy/templates/${template} by \`npm run generate:deploy\` (scripts/generate-deploy.ts): do not edit.`,
    `# Rendered with: helm template ${DEPLOY_RELEASE.release} charts/piggy --namespace ${DEPLOY_RELEASE.namespace} ${Object.entries(DEPLOY_VALUES)
      .map(([key, value]) => `--set ${key}=${value}`)
      .join(' ')}`,
    '# (every other value at its default). aws.region=us-east-1 is a placeholder, and no image is published',
    '# from this repository yet: set AWS_REGION and the images, or install the chart with your values',
    '# (charts/piggy/README.md). Apply crds/ first.',
    '',
  ].join('\n');

const crdHeader = (name: string): string =>
  `# GENERATED from crds/${name} by \`npm run generate:deploy\` (scripts/generate-deploy.ts): do not edit; crds/ is the source.\n`;

/**
 * Every generated file, keyed by its path relative to the repository: deploy/*.yaml (one per chart
 * template, rendered with DEPLOY_VALUES) and charts/piggy/crds/*.yaml (copies of crds/).
 */
export async function buildGeneratedFiles(helm: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const name of await yamlFiles(CRDS_DIR)) {
    files.set(path.join('charts', 'piggy', 'crds', name), crdHeader(name) + (await readFile(path.join(CRDS_DIR, name), 'utf8')));
  }
  const out = await mkdtemp(path.join(tmpdir(), 'piggy-deploy-'));
  try {
    const result = await renderChart(helm, { set: DEPLOY_VALUES }, ['--output-dir', out]);
    if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
    const templates = path.join(out, 'piggy', 'templates');
    for (const name of await yamlFiles(templates)) {
      files.set(path.join('deploy', name), deployHeader(name) + (await readFile(path.join(templates, name), 'utf8')));
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  return files;
}

/** The generated folders' current YAML files, keyed like buildGeneratedFiles. */
export async function readGeneratedFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const [dir, relative] of [
    [CHART_CRDS_DIR, path.join('charts', 'piggy', 'crds')],
    [DEPLOY_DIR, 'deploy'],
  ] as const) {
    for (const name of await yamlFiles(dir).catch(() => [])) files.set(path.join(relative, name), await readFile(path.join(dir, name), 'utf8'));
  }
  return files;
}
