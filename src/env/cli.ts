/**
 * The piggy-env launcher's entry point (bundled into a single executable by
 * scripts/build-piggy-env.ts; `bin/piggy-env.js` runs the same code on Node for development):
 *
 *   piggy-env install <dir>                       copy the launcher and its runtime into <dir>
 *   piggy-env write-files                         file mode: write every PIGGY_FILES secret
 *   piggy-env [--standalone] [--retry N] [--initial-delay D] -- command [args…]
 *
 * Wires the real effects into the modes; no top-level await (the bundle is CommonJS).
 */
import { isSea } from 'node:sea';
import { readFileSync } from 'node:fs';
import { isAppError, messageOf } from '../shared/errors.ts';
import { ENV_ERRORS, EXIT } from './error-codes.ts';
import { execApp, fileProbe } from './exec.ts';
import { sendHttp } from './http-request.ts';
import { installLauncher } from './install.ts';
import { createEnvLogger } from './log.ts';
import { runEnvMode, type RunDeps } from './run.ts';
import { runWriteFiles } from './write-files.ts';

function realDeps(): RunDeps {
  return {
    env: { ...process.env },
    cwd: process.cwd(),
    sendHttp,
    // Small files (a token, a CA): read at once, without loading node:fs/promises (~3 ms of the start).
    readFile: (path) => Promise.resolve().then(() => readFileSync(path, 'utf8')),
    now: () => new Date(),
    random: Math.random,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    // Since the process started, like performance.now(), without loading perf_hooks (~2 ms).
    elapsed: () => process.uptime() * 1000,
    probe: fileProbe,
    exec: execApp,
  };
}

async function runInstall(args: readonly string[]): Promise<number> {
  const log = createEnvLogger({ debug: false });
  const [dir, flag, mountPath] = args;
  const usage = dir === undefined || dir === '' || dir.startsWith('-') || (flag === undefined ? args.length > 1 : flag !== '--mount-path' || mountPath === undefined || !mountPath.startsWith('/') || args.length > 3);
  if (usage) {
    log.error('usage: piggy-env install <dir> [--mount-path <absolute path where the containers see <dir>>]', { code: ENV_ERRORS.usage });
    return EXIT.usage;
  }
  if (!isSea()) {
    log.error('install copies the single executable; this is the Node.js script (build it with `npx tsx scripts/build-piggy-env.ts`)', { code: ENV_ERRORS.install });
    return EXIT.failure;
  }
  try {
    const result = await installLauncher(process.execPath, dir, mountPath);
    log.info('installed', { path: result.path, runtimeFiles: result.runtimeFiles });
    return 0;
  } catch (error) {
    log.error('install failed', { code: isAppError(error) ? error.code : ENV_ERRORS.install, error: messageOf(error) });
    return EXIT.failure;
  }
}

async function main(args: readonly string[]): Promise<number> {
  if (args[0] === 'install') return runInstall(args.slice(1));
  if (args[0] === 'write-files' && !args.includes('--')) {
    process.umask(0o022);
    return runWriteFiles(realDeps());
  }
  return runEnvMode(args, realDeps());
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    createEnvLogger({ debug: false }).error('piggy-env failed', { error: messageOf(error) });
    process.exit(EXIT.failure);
  },
);
