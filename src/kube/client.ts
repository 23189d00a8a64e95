import { VersionApi, type KubeConfig } from '@kubernetes/client-node';
import { PooledKubeConfig } from './pooled-kube-config.ts';
import { AppError } from '../shared/errors.ts';

/**
 * Kubernetes config from a kubeconfig file when one is given, else in-cluster, else the default
 * chain; its clients share one connection pool.
 */
export function loadKubeConfig(kubeconfigPath: string | undefined): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  try {
    if (kubeconfigPath !== undefined) kc.loadFromFile(kubeconfigPath);
    else kc.loadFromDefault();
  } catch (cause) {
    throw new AppError('ERR_KUBE_CONFIG', 'cannot load the Kubernetes configuration', {
      cause,
      details: { kubeconfig: kubeconfigPath ?? 'in-cluster' },
    });
  }
  if (kc.getCurrentCluster() === null) {
    throw new AppError('ERR_KUBE_CONFIG', 'the Kubernetes configuration names no cluster', {
      details: { kubeconfig: kubeconfigPath ?? 'in-cluster' },
    });
  }
  return kc;
}

/** Resolves with the API server's version once it answers; classifies failures as transient. */
export async function fetchServerVersion(kc: KubeConfig): Promise<string> {
  try {
    const info = await kc.makeApiClient(VersionApi).getCode();
    return info.gitVersion;
  } catch (cause) {
    throw new AppError('ERR_KUBE_UNREACHABLE', 'the Kubernetes API server did not answer', {
      kind: 'transient',
      cause,
      details: { server: kc.getCurrentCluster()?.server },
    });
  }
}
