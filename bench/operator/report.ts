// The results table (stdout and bench/operator/results.md) and the machine it was measured on.
import { appendResultsSection, formatTable } from '../markdown.ts';
import type { BenchOptions } from './options.ts';

export interface CaseResult {
  readonly count: number;
  /** Creating the AWSSecrets through the API. */
  readonly createMs: number;
  /** From the first AWSSecret create until the last one was Ready=True. */
  readonly readyMs: number;
  /** Creating as many plain Secrets directly through the API, same concurrency. */
  readonly directMs: number;
  /** The same, with @kubernetes/client-node as shipped: a new TLS connection per request (as the controller). */
  readonly directStockMs: number;
  /** N AWSSecrets created where no controller watches: the CRD's own write cost, a floor for "all Ready". */
  readonly aloneMs: number;
  /** The bench itself making each object's unavoidable writes (AWSSecret create, Secret create, status patch), no controller. */
  readonly floorMs: number;
  readonly awsCalls: number;
  readonly awsCallsByApi: Readonly<Record<string, number>>;
  readonly secretWrites: number;
  /** Events the controller's full event queue dropped (piggy_events_dropped_total when all were Ready). */
  readonly eventsDropped: number;
  readonly peakRssKiB: number;
  readonly retries: number;
  /** CPU ms per object: the API server + etcd for a direct Secret create; for an AWSSecret until Ready (its create included); the controller per AWSSecret. */
  /** API-server requests per object during each phase, by verb and resource (leases left out). */
  readonly requestsPerObject: { readonly direct: string; readonly operator: string };
  readonly cpuMsPerObject: { readonly direct: number; readonly floor: number; readonly operatorApiServer: number; readonly controller: number };
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function buildTable(results: readonly CaseResult[]): string {
  const header = ['N', 'AWSSecrets created in', 'all Ready after', 'N Secrets created directly', 'ratio', 'N AWSSecrets, no controller', 'its ratio', 'their writes, no controller', 'its ratio', 'direct, connection per request', 'AWS calls', 'Events dropped', 'controller peak RSS', 'CPU ms per object: API server + etcd, direct', 'their writes, no controller', 'per AWSSecret until Ready', 'controller per AWSSecret'];
  const rows = results.map((r) => [
    String(r.count),
    s(r.createMs),
    s(r.readyMs),
    s(r.directMs),
    `${(r.readyMs / r.directMs).toFixed(2)}×`,
    s(r.aloneMs),
    `${(r.aloneMs / r.directMs).toFixed(2)}×`,
    s(r.floorMs),
    `${(r.floorMs / r.directMs).toFixed(2)}×`,
    s(r.directStockMs),
    `${r.awsCalls} (${Object.entries(r.awsCallsByApi).map(([api, n]) => `${api} ${n}`).join(', ') || 'none'})`,
    String(r.eventsDropped),
    `${(r.peakRssKiB / 1024).toFixed(0)} MiB`,
    r.cpuMsPerObject.direct.toFixed(2),
    r.cpuMsPerObject.floor.toFixed(2),
    r.cpuMsPerObject.operatorApiServer.toFixed(2),
    r.cpuMsPerObject.controller.toFixed(2),
  ]);
  const requests = results.map((r) => `- ${r.count}: API-server requests per object: direct ${r.requestsPerObject.direct}; per AWSSecret until Ready (the bench's own create and Ready polls included) ${r.requestsPerObject.operator}\n`);
  return `${formatTable(header, rows)}\n${requests.join('')}`;
}


export function describeOptions(options: BenchOptions, reconcileConcurrency: string): string {
  return `${options.versions} distinct versions (${options.versionsPerSecret} per secret), ${options.concurrency} client requests in flight, ` +
    `RECONCILE_CONCURRENCY=${reconcileConcurrency}, update checks off`;
}

/** Appends one dated section to FILE (created with a heading when missing). */
export function appendResults(file: string, section: { when: Date; machine: string; options: string; table: string; notes: readonly string[] }): void {
  const notes = section.notes.map((note) => `- ${note}\n`).join('');
  appendResultsSection(file, 'operator', `${section.machine}  \n${section.options}\n\n${section.table}\n${notes === '' ? '' : `\n${notes}`}`, section.when);
}
