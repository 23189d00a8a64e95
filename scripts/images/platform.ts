// The two architectures the images are built for, and what each one is called by the tools involved.
export type Arch = 'amd64' | 'arm64';

export interface ArchNames {
  /** OCI / Go name (the image platform). */
  readonly oci: Arch;
  /** Debian architecture. */
  readonly debian: string;
  /** Node.js's `process.arch` and its npm binary package suffix (`node-linux-<node>`). */
  readonly node: string;
  /** The multiarch triplet of Debian's library folders. */
  readonly triplet: string;
  /** The glibc loader's file name and its path as Node's PT_INTERP names it. */
  readonly loader: string;
  readonly loaderPath: string;
  /** binutils' strip for this architecture. */
  readonly strip: string;
}

export const ARCHES: Readonly<Record<Arch, ArchNames>> = {
  amd64: {
    oci: 'amd64',
    debian: 'amd64',
    node: 'x64',
    triplet: 'x86_64-linux-gnu',
    loader: 'ld-linux-x86-64.so.2',
    loaderPath: '/lib64/ld-linux-x86-64.so.2',
    strip: 'strip',
  },
  arm64: {
    oci: 'arm64',
    debian: 'arm64',
    node: 'arm64',
    triplet: 'aarch64-linux-gnu',
    loader: 'ld-linux-aarch64.so.1',
    loaderPath: '/lib/ld-linux-aarch64.so.1',
    strip: 'aarch64-linux-gnu-strip',
  },
};

export const ALL_ARCHES: readonly Arch[] = ['amd64', 'arm64'];

/** The architecture this process runs on, in OCI terms. */
export function hostArch(): Arch | undefined {
  if (process.platform !== 'linux') return undefined;
  return process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : undefined;
}
