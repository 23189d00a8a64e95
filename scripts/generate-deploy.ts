// `npm run generate:deploy`: renders charts/piggy into deploy/ (default values, namespace
// piggy-system, a placeholder region) and copies crds/ into charts/piggy/crds/. Removes generated
// folders' YAML files that the chart no longer renders. test/unit/chart-generated.test.ts fails
// when the checked-in files differ from what this writes.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CHART_CRDS_DIR, DEPLOY_DIR, buildGeneratedFiles, findHelm, readGeneratedFiles } from './chart-render.ts';
import { repoRoot } from './local/procs.ts';

async function main(): Promise<void> {
  const helm = await findHelm();
  const wanted = await buildGeneratedFiles(helm);
  const existing = await readGeneratedFiles();
  await Promise.all([mkdir(DEPLOY_DIR, { recursive: true }), mkdir(CHART_CRDS_DIR, { recursive: true })]);
  for (const [file, text] of wanted) {
    if (existing.get(file) === text) continue;
    await writeFile(path.join(repoRoot, file), text);
    console.log(`wrote ${file}`);
  }
  for (const file of existing.keys()) {
    if (wanted.has(file)) continue;
    await rm(path.join(repoRoot, file));
    console.log(`removed ${file}`);
  }
}

await main();
