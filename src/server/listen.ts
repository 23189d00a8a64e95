import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostPort } from '../config/parse.ts';

/** Listens on the address (an empty host means all interfaces) and returns the bound port. */
export function listen(server: Server, address: HostPort): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    const done = (): void => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    if (address.host === '') server.listen(address.port, done);
    else server.listen(address.port, address.host, done);
  });
}
