// npm run build:images -- [--push REGISTRY/REPO[:TAG]] [--out DIR] [--refresh-packages] [--json]
//
// Builds the piggy (controller) and piggy-env (launcher) images for linux/amd64 and linux/arm64 as
// OCI image layouts under DIR (default dist/images/: piggy/, piggy-env/, images.json), without a
// Docker daemon (scripts/images/build.ts). --push also copies them to REGISTRY/REPO/piggy:TAG and
// REGISTRY/REPO/piggy-env:TAG (TAG defaults to package.json's version) and prints the digests.
// --refresh-packages re-resolves the Debian packages (otherwise the recorded versions are reused).
// --json prints images.json (what a chart or an end-to-end test reads) instead of the summary.
import { realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { repoRoot } from './local/procs.ts';
import { buildImages, IMAGE_NAMES, type ImagesSummary } from './images/build.ts';

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function formatSummary(summary: ImagesSummary): string {
  const lines = [`piggy ${summary.version} (${summary.revision.slice(0, 12)}${summary.revision.endsWith('-dirty') ? ', dirty tree' : ''}), created ${summary.created}`];
  for (const name of IMAGE_NAMES) {
    const image = summary.images[name];
    lines.push(`${name.padEnd(10)} ${image.digest}  ${image.layout} (tag ${image.tag})`);
    for (const platform of image.platforms) {
      lines.push(`  ${platform.platform.padEnd(12)} ${platform.digest}  ${mib(platform.compressedBytes)} compressed, ${mib(platform.uncompressedBytes)} uncompressed, ${platform.layers} layer(s)`);
    }
    if (image.pushed !== undefined) lines.push(`  pushed       ${image.pushed.reference}`);
  }
  lines.push(`node         ${summary.inputs.node.map((dist) => `${dist.package} (${dist.integrity.slice(0, 19)}…)`).join(', ')}`);
  for (const [arch, packages] of Object.entries(summary.inputs.debian)) lines.push(`debian ${arch.padEnd(5)} ${packages.join(' ')}`);
  const s = summary.seconds;
  lines.push(`time         ${s.total}s total: inputs ${s.inputs}s, assemble ${s.assemble}s, layouts ${s.layout}s, push ${s.push}s`);
  return lines.join('\n');
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === (await realpath(process.argv[1]).catch(() => process.argv[1]))) {
  const { values } = parseArgs({
    options: { push: { type: 'string' }, out: { type: 'string' }, 'refresh-packages': { type: 'boolean' }, json: { type: 'boolean' } },
    strict: true,
  });
  const summary = await buildImages({
    outDir: values.out === undefined ? join(repoRoot, 'dist', 'images') : resolve(values.out),
    ...(values.push === undefined ? {} : { push: values.push }),
    refreshPackages: values['refresh-packages'] === true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${values.json === true ? JSON.stringify(summary, null, 2) : formatSummary(summary)}\n`);
}
