/**
 * The light half of the Kubernetes backend: its URL and the reading of presence Leases. Imports
 * nothing from `@kubernetes/client-node` at run time, so the store index (and a node that uses no
 * Kubernetes store) does not load it.
 */
import type { V1Lease } from '@kubernetes/client-node';
import { sortedRegistrations, storedRegistration } from './documents.js';
import { InvalidStoreUrlError } from './errors.js';
import type { NodeRegistration } from './store.js';

export interface KubernetesLocation {
  namespace: string;
  /** The ConfigMap holding the map; Leases are named after it. */
  name: string;
  /** API server URL to use without credentials; undefined: in-cluster / kubeconfig. */
  server?: string;
}

export const REGISTRATION_ANNOTATION = 'ballast.io/registration';
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function parseKubernetesUrl(url: string): KubernetesLocation {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new InvalidStoreUrlError(`cannot parse store URL ${JSON.stringify(url)}: ${(error as Error).message}`);
  }
  const namespace = parsed.hostname;
  const name = parsed.pathname.replace(/^\/+/, '');
  if (!DNS_SUBDOMAIN.test(namespace) || !DNS_SUBDOMAIN.test(name) || name.includes('/')) {
    throw new InvalidStoreUrlError(`kubernetes store URL ${JSON.stringify(url)}: expected kubernetes://NAMESPACE/CONFIGMAP[?server=URL]`);
  }
  const server = parsed.searchParams.get('server') ?? undefined;
  return server === undefined ? { namespace, name } : { namespace, name, server };
}

/**
 * The live registrations among presence Leases: renewed within their duration (by `nowMs`) and
 * carrying a readable registration. Pure; the operator uses it too.
 */
export function liveRegistrations(leases: readonly V1Lease[], nowMs: number): NodeRegistration[] {
  const live: NodeRegistration[] = [];
  for (const lease of leases) {
    const renewed = lease.spec?.renewTime === undefined ? NaN : new Date(lease.spec.renewTime).getTime();
    const ttlMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
    const text = lease.metadata?.annotations?.[REGISTRATION_ANNOTATION];
    if (!(renewed + ttlMs > nowMs) || text === undefined) continue;
    try {
      live.push(storedRegistration(text, `Lease ${lease.metadata?.name ?? '?'}`));
    } catch {
      // Not a registration written by a node (or a newer format): not online.
    }
  }
  return sortedRegistrations(live);
}
