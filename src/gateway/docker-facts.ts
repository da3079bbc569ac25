import type Docker from 'dockerode';
import { isIP } from 'node:net';

/* Pure readings of Docker's answers and of where the daemon is, for DockerRepository. */

/** Where the container's ports are published when the daemon runs on this machine. */
export const LOCAL_PUBLISHED_HOST = '127.0.0.1';

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.') || host === '0.0.0.0';
  return isIP(host) === 6 && (host === '::1' || host === '::');
}

/**
 * The machine whose ports Docker publishes a container's ports on, as the supervisor reaches it: the daemon's
 * host. dockerode's modem has it from DOCKER_HOST (tcp://host:port, ssh://user@host) or from its options;
 * with a unix socket (or a tcp/ssh address of this machine) that is this machine, 127.0.0.1.
 */
export function publishedHostOf(modem: { host?: unknown }): string {
  const host = typeof modem.host === 'string' ? modem.host.replace(/^\[(.*)\]$/, '$1').toLowerCase() : '';
  return host === '' || isLoopback(host) ? LOCAL_PUBLISHED_HOST : host;
}

/** Container port → host port, for the ports published on 127.0.0.1 (or all addresses). */
export function parsePorts(
  ports: Docker.ContainerInspectInfo['NetworkSettings']['Ports'] | undefined,
): Record<number, number> {
  const published: Record<number, number> = {};
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const containerPort = Number(key.split('/')[0]);
    const binding = (bindings as { HostIp: string; HostPort: string }[] | null)?.find(
      (candidate) => candidate.HostIp === '127.0.0.1' || candidate.HostIp === '',
    );
    if (binding && binding.HostPort !== '') published[containerPort] = Number(binding.HostPort);
  }
  return published;
}

/** `NAME=value` entries as a record. */
export function parseEnv(env: string[] | null | undefined): Record<string, string> {
  const parsed: Record<string, string> = {};
  for (const entry of env ?? []) {
    const separator = entry.indexOf('=');
    if (separator > 0) parsed[entry.slice(0, separator)] = entry.slice(separator + 1);
  }
  return parsed;
}

/** Whether the container mounts anything from the daemon's machine (earlier versions mounted the secret files). */
export function mountsHostFiles(info: Pick<Docker.ContainerInspectInfo, 'Mounts' | 'HostConfig'>): boolean {
  return (
    (info.HostConfig.Binds ?? []).length > 0 || (info.Mounts ?? []).some((mount) => mount.Type === 'bind')
  );
}
