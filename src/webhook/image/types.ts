/** One `auths` entry of a docker config: `auth` is base64("username:password"). */
export interface DockerAuthEntry {
  readonly auth?: string;
  readonly username?: string;
  readonly password?: string;
  /** An OAuth2 refresh token, exchanged at the Bearer realm (Azure ACR style). */
  readonly identitytoken?: string;
  /** A ready Bearer token for the registry. */
  readonly registrytoken?: string;
}

/**
 * The content of a `kubernetes.io/dockerconfigjson` Secret (`.dockerconfigjson`), or of a legacy
 * `kubernetes.io/dockercfg` Secret wrapped as `{ auths: <content> }` (see parseDockerConfig).
 * Keys are registry hosts or URLs (`registry.example.com`, `https://index.docker.io/v1/`,
 * `registry.example.com/team`, `*.example.com`).
 */
export interface DockerConfigJson {
  readonly auths?: Readonly<Record<string, DockerAuthEntry>>;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export interface ImageContext {
  readonly namespace: string;
  /** docker config JSON documents already read from the pod's and service account's imagePullSecrets (and the image-pull-secret annotation); the caller reads the Secrets through the API */
  readonly pullSecrets: readonly DockerConfigJson[];
  readonly platform?: { os: string; architecture: string; variant?: string };
  readonly signal?: AbortSignal;
}

export interface ResolvedImage {
  readonly entrypoint: string[];
  readonly cmd: string[];
  /** manifest digest of the platform image */
  readonly digest: string;
  /** digest of the index (manifest list) the platform image was chosen from, when the reference named one */
  readonly indexDigest?: string;
  readonly env?: string[];
  readonly user?: string;
  readonly workingDir?: string;
}

export interface ImageResolver {
  resolve(image: string, context: ImageContext): Promise<ResolvedImage>;
}
