// Pods on the test stack's real nodes (scripts/local/node): they must be hostNetwork (no pod network
// on a loopback-only machine) and tolerate the nodes' taint; images come from the stack's registry.
import { onRealNode, pushBusyboxImage } from '../../scripts/local/app-image.ts';
import { NODE_TOLERATION } from '../../scripts/local/node/files.ts';
import { registryHost, testStack } from './stack.ts';

export { NODE_TOLERATION, onRealNode, pushBusyboxImage };

/** The API server as pods reach it: 127.0.0.1 (the kubernetes Service IP has nothing behind it). */
export function inClusterEnv(): { name: string; value: string }[] {
  const url = new URL(testStack().apiserverUrl);
  return [
    { name: 'KUBERNETES_SERVICE_HOST', value: url.hostname },
    { name: 'KUBERNETES_SERVICE_PORT', value: url.port },
  ];
}

let busybox: Promise<string> | undefined;

/**
 * A busybox image in the stack's registry (every applet under /bin, nothing else) with
 * ENTRYPOINT ["/bin/sh", "-c"] and a CMD that prints a line: an image whose command the webhook
 * must read from the registry. Pushing the same deterministic layer again is a no-op.
 */
export function busyboxImage(): Promise<string> {
  busybox ??= pushBusyboxImage(testStack().tools.crane, `${registryHost()}/piggy-test/busybox:1`);
  return busybox;
}
