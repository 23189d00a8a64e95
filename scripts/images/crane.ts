// go-containerregistry's crane, and a throwaway registry (`crane registry serve`, 127.0.0.1 only,
// blobs on disk in a temporary folder) that images are assembled in: crane's append/mutate/index
// commands work against a registry, and from there `crane pull --format=oci` writes an OCI layout and
// `crane copy` pushes without changing a digest. Loopback registries are spoken to over plain HTTP.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { cacheDir, isExecutable, readVersions, run, scriptsDir } from '../local/procs.ts';

const execFileAsync = promisify(execFile);

/** The cached crane binary (scripts/local/build-binaries.sh builds it once through the Go module proxy). */
export async function ensureCrane(log: (line: string) => void): Promise<string> {
  const version = readVersions().CRANE_VERSION;
  if (version === undefined) throw new Error('scripts/local/versions.env lacks CRANE_VERSION');
  const crane = join(cacheDir(), `crane-${version}`, 'crane');
  if (await isExecutable(crane)) return crane;
  log(`images: building crane ${version} (once)`);
  const built = await run(join(scriptsDir, 'build-binaries.sh'), ['crane'], { inheritStderr: true });
  if (built.code !== 0 || !(await isExecutable(crane))) throw new Error(`build-binaries.sh crane failed (exit ${built.code})`);
  return crane;
}

/** `host:port` of a registry on the loopback interface (plain HTTP is safe, and what crane uses there). */
export function isLoopbackRegistry(reference: string): boolean {
  const host = reference.split('/')[0] ?? '';
  return /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/.test(host);
}

export class Crane {
  readonly binary: string;

  constructor(binary: string) {
    this.binary = binary;
  }

  /** Runs crane, returning its trimmed stdout; a failure carries crane's stderr. */
  async run(args: readonly string[]): Promise<string> {
    try {
      const { stdout } = await execFileAsync(this.binary, [...args], { maxBuffer: 64 * 1024 * 1024 });
      return stdout.trim();
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr ?? '';
      throw new Error(`crane ${args[0] ?? ''} ${args[1] ?? ''} failed: ${stderr.trim() || String(error)}`, { cause: error });
    }
  }

  /** `repo@sha256:…` printed by append/mutate/index append → the digest. */
  static digestOf(printed: string): string {
    const digest = /@(sha256:[0-9a-f]{64})\s*$/.exec(printed)?.[1];
    if (digest === undefined) throw new Error(`crane printed no digest: ${printed}`);
    return digest;
  }

  async manifest(reference: string): Promise<{ layers?: { size: number }[]; config?: { size: number } }> {
    return JSON.parse(await this.run(['manifest', reference])) as { layers?: { size: number }[]; config?: { size: number } };
  }
}

export interface ScratchRegistry {
  /** `127.0.0.1:<port>` */
  readonly address: string;
  stop(): Promise<void>;
}

/** Starts `crane registry serve` on 127.0.0.1 with blobs in `disk`; stop() ends exactly that process. */
export async function startScratchRegistry(crane: string, disk: string): Promise<ScratchRegistry> {
  await mkdir(disk, { recursive: true });
  const child = spawn(crane, ['registry', 'serve', '--address', '127.0.0.1:0', '--disk', disk], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  let started = false;
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`crane registry serve did not start: ${output}`)), 15_000);
    child.stderr.on('data', (chunk: Buffer) => {
      if (started) return; // its request log is not kept
      output += chunk.toString();
      const port = /serving on port (\d+)/.exec(output)?.[1];
      if (port !== undefined) {
        started = true;
        clearTimeout(timer);
        resolve(`127.0.0.1:${port}`);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`crane registry serve exited (${code}): ${output}`));
    });
  });
  return {
    address,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
