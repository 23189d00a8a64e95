import express, { type Express, type Request, type Response, type NextFunction } from 'express';
import type { Logger } from '../shared/logger.ts';
import type { Metrics } from '../shared/metrics.ts';
import type { Readiness } from '../shared/readiness.ts';

export interface AppOptions {
  readonly readiness: Readiness;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Later components (webhook, proxy) mount their routes here. */
  readonly mount?: (app: Express) => void;
}

/** The HTTPS listener's request handler: health, readiness and the components' routes. */
export function buildApp(options: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(countRequests(options.metrics));
  app.get('/healthz', (_req, res) => {
    res.status(200).json({ ok: true });
  });
  app.get('/readyz', (_req, res) => {
    const snapshot = options.readiness.snapshot();
    res.status(snapshot.ready ? 200 : 503).json(snapshot);
  });
  options.mount?.(app);
  app.use((_req, res) => {
    res.status(404).json({ code: 'ERR_HTTP_NOT_FOUND', message: 'no such route' });
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    options.log.error({ err: error, route: req.path }, 'request failed');
    if (!res.headersSent) res.status(500).json({ code: 'ERR_HTTP_INTERNAL', message: 'internal error' });
  });
  return app;
}

function countRequests(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const stop = metrics.httpDuration.startTimer();
    res.on('finish', () => {
      const matched = (req.route as { path?: unknown } | undefined)?.path;
      const route = typeof matched === 'string' ? matched : 'unmatched';
      metrics.httpRequests.inc({ route, method: req.method, code: String(res.statusCode) });
      stop({ route });
    });
    next();
  };
}
