import Docker from 'dockerode';
import { mountsHostFiles, publishedHostOf } from '../../../src/gateway/docker-facts';
import { DockerRepository } from '../../../src/gateway/docker.repository';

/**
 * Where the supervisor finds the gateway's published ports: on the Docker daemon's machine. dockerode reads
 * DOCKER_HOST; nothing here connects to a daemon.
 */

function withDockerHost<T>(value: string | undefined, action: () => T): T {
  const saved = process.env.DOCKER_HOST;
  if (value === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = value;
  try {
    return action();
  } finally {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  }
}

const publishedHostFor = (dockerHost: string | undefined) =>
  withDockerHost(dockerHost, () => new DockerRepository(new Docker()).publishedHost());

describe('DockerRepository.publishedHost', () => {
  it('is this machine for a local daemon: no DOCKER_HOST, a unix socket, or tcp/ssh to a loopback address', () => {
    for (const dockerHost of [
      undefined,
      'unix:///var/run/docker.sock',
      'unix://',
      'tcp://127.0.0.1:2375',
      'tcp://127.0.0.2:2375',
      'tcp://localhost:2375',
      'tcp://[::1]:2375',
      'ssh://trader@localhost',
    ]) {
      expect([dockerHost, publishedHostFor(dockerHost)]).toEqual([dockerHost, '127.0.0.1']);
    }
  });

  it("is DOCKER_HOST's host for a daemon elsewhere (tcp://, ssh://, TLS, IPv6)", () => {
    expect(publishedHostFor('tcp://gw.example.net:2375')).toBe('gw.example.net');
    expect(publishedHostFor('tcp://10.0.4.7:2376')).toBe('10.0.4.7');
    expect(publishedHostFor('ssh://trader@Gw.Example.net:2222')).toBe('gw.example.net');
    expect(publishedHostFor('tcp://[fd00::7]:2375')).toBe('fd00::7');
    expect(publishedHostFor('gw.example.net:2375')).toBe('gw.example.net'); // no scheme: tcp, as Docker reads it
  });

  it('follows a client built with an explicit host, whatever DOCKER_HOST says', () => {
    const repository = withDockerHost(
      undefined,
      () => new DockerRepository(new Docker({ host: '192.168.7.20', port: 2375 })),
    );
    expect(repository.publishedHost()).toBe('192.168.7.20');
    expect(publishedHostOf({ host: undefined })).toBe('127.0.0.1');
  });
});

describe('mountsHostFiles', () => {
  const info = (hostConfig: object, mounts: object[]) =>
    ({ HostConfig: hostConfig, Mounts: mounts }) as unknown as Parameters<typeof mountsHostFiles>[0];

  it('tells a container that mounts files of the daemon machine (as earlier versions did) from one that does not', () => {
    const bound = { Type: 'bind', Source: '/data/gateway-secrets/gw/tws_password' };
    expect(mountsHostFiles(info({ Binds: ['/a:/run/secrets/tws_password:ro'] }, []))).toBe(true);
    expect(mountsHostFiles(info({}, [bound]))).toBe(true);
    expect(mountsHostFiles(info({ Binds: null }, []))).toBe(false);
    expect(mountsHostFiles(info({}, [{ Type: 'volume' }]))).toBe(false);
  });
});
