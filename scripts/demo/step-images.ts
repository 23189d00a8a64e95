// Step: the images the pods run, in the demo stack's registry: piggy and piggy-env from
// `npm run build:images` (OCI layouts in dist/images, cached by their inputs, pushed here), and a
// busybox app image. The controller names piggy-env by digest (PIGGY_ENV_IMAGE).
import path from 'node:path';
import { pushBusyboxImage } from '../local/app-image.ts';
import { repoRoot } from '../local/procs.ts';
import { buildImages } from '../images/build.ts';
import { need, type DemoContext, type DemoStep } from './context.ts';
import { command, dim, good, say, seconds, show, table } from './narrate.ts';

const OUT_DIR = path.join(repoRoot, 'dist', 'images');

export const imagesStep: DemoStep = {
  title: 'Build the images (piggy, piggy-env) and push them, and a busybox app image, to the stack\'s registry',
  async run(ctx: DemoContext) {
    const stack = need(ctx.stack, 'stack');
    const registry = stack.info.registryHost;
    command(`npm run build:images -- --push ${registry}/piggy`);
    const t0 = Date.now();
    const summary = await buildImages({
      outDir: OUT_DIR,
      push: `${registry}/piggy`,
      log: (line) => {
        if (/pushing|assembling|building|download/i.test(line)) say(dim(line));
      },
    });
    const env = need(summary.images['piggy-env'].pushed, 'the pushed piggy-env image');
    const piggy = need(summary.images.piggy.pushed, 'the pushed piggy image');
    good(`built and pushed in ${seconds(Date.now() - t0)} (layouts in ${path.relative(process.cwd(), OUT_DIR)}, linux/amd64 + linux/arm64)`);
    const mb = (name: 'piggy' | 'piggy-env') => `${((summary.images[name].platforms.find((p) => p.platform === 'linux/amd64')?.compressedBytes ?? 0) / 1e6).toFixed(1)} MB`;
    show(table(['IMAGE', 'DIGEST', 'AMD64 (compressed)'], [[`${piggy.repository}:${piggy.tag}`, piggy.digest.slice(0, 19), mb('piggy')], [`${env.repository}:${env.tag}`, env.digest.slice(0, 19), mb('piggy-env')]]));
    const appImage = await pushBusyboxImage(stack.info.tools.crane, `${registry}/demo/busybox:1`);
    good(`app image ${appImage}: the host's static busybox (/bin/sh and its applets), nothing else`);
    ctx.images = { envImage: `${env.repository}@${env.digest}`, appImage };
  },
};
