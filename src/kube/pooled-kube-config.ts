import { KubeConfig, type RequestContext } from '@kubernetes/client-node';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * A KubeConfig whose API clients share one connection pool. @kubernetes/client-node 2.0.1 builds
 * a new undici Agent for every request (applySecurityAuthentication → createDispatcher), so every
 * call pays a TCP + TLS handshake. The first dispatcher is kept and reused; bearer tokens are
 * headers and still refresh per request. (A client certificate that rotates in the kubeconfig
 * would need a restart: the pool keeps the first one.)
 */
export class PooledKubeConfig extends KubeConfig {
  #dispatcher: Dispatcher | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    const created = context.getDispatcher();
    if (created === undefined) return;
    this.#dispatcher ??= created;
    if (created !== this.#dispatcher) {
      context.setDispatcher(this.#dispatcher);
      void created.close();
    }
  }

  /** Closes the shared pool's connections. */
  async close(): Promise<void> {
    const dispatcher = this.#dispatcher;
    this.#dispatcher = undefined;
    await dispatcher?.close();
  }
}
