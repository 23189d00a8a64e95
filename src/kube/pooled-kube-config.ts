import { KubeConfig, type RequestContext } from '@kubernetes/client-node';
import type https from 'node:https';

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * A KubeConfig whose API clients share one connection pool. @kubernetes/client-node 2.0.1 builds
 * a new undici Agent for every request (applySecurityAuthentication → createDispatcher), so every
 * call pays a TCP + TLS handshake, and destroying the spare Agent costs an error object with its
 * stack. The first request builds the dispatcher through the library; later requests get only
 * their headers (a bearer token still refreshes per request) and reuse it. (A client certificate
 * that rotates in the kubeconfig would need a restart: the pool keeps the first one.)
 */
export class PooledKubeConfig extends KubeConfig {
  #dispatcher: Dispatcher | undefined;

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    const pooled = this.#dispatcher;
    if (pooled === undefined) {
      await super.applySecurityAuthentication(context);
      this.#dispatcher = context.getDispatcher();
      return;
    }
    // What the library's applySecurityAuthentication sets besides the dispatcher: the headers
    // (applyToHTTPSOptions fills them the same way; the https.Agent it adds is cached and unused).
    const options: https.RequestOptions = {};
    await this.applyToHTTPSOptions(options);
    if (options.auth) context.setHeaderParam('Authorization', `Basic ${Buffer.from(options.auth).toString('base64')}`);
    for (const [key, value] of Object.entries(options.headers ?? {})) if (value !== undefined) context.setHeaderParam(key, String(value));
    context.setDispatcher(pooled);
  }

  /** Closes the shared pool's connections. */
  async close(): Promise<void> {
    const dispatcher = this.#dispatcher;
    this.#dispatcher = undefined;
    await dispatcher?.close();
  }
}
