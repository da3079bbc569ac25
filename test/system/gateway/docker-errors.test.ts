import Docker from 'dockerode';
import { DomainError } from '../../../src/common/domain-error';
import type { AppConfig } from '../../../src/config/config.schema';
import { INSTANCE_LABEL } from '../../../src/gateway/container-gateway-runtime';
import { DockerRepository } from '../../../src/gateway/docker.repository';
import { startService } from '../../../src/main';
import { assertDockerAvailable, docker, TEST_CONTAINER_LABEL } from '../../support/docker';
import { testConfig } from '../../integration/service/service-harness';

/** The clear errors of the gateway's Docker side: no daemon, and an image that is missing and cannot be pulled. */

function gatewayConfig(containerName: string, image: string): AppConfig {
  const base = testConfig();
  return testConfig({
    ib: { ...base.ib, username: 'trader1', password: 'not-used-here' },
    gateway: { ...base.gateway, image, containerName, apiPort: 0, vncPort: 0 },
  });
}

describe('Docker errors say what is wrong and what to do', () => {
  beforeAll(async () => assertDockerAvailable(), 30_000);

  it('Docker unreachable: NOT_CONNECTED, saying how to start it', async () => {
    const repository = new DockerRepository(new Docker({ socketPath: '/nonexistent/docker.sock' }));
    const error = await repository.ping().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'NOT_CONNECTED' });
    expect((error as DomainError).message).toMatch(/Docker is not reachable.*Start the Docker daemon/);
  });

  it('Docker unreachable through DOCKER_HOST: the service does not start, and says why', async () => {
    const previous = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    try {
      await expect(
        startService(gatewayConfig(`ibgs-test-no-docker-${process.pid}`, 'any:image')),
      ).rejects.toThrow(/Docker is not reachable/);
    } finally {
      if (previous === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = previous;
    }
  });

  it('an image that is not here and cannot be pulled: NOT_FOUND naming the image, and no container', async () => {
    // A registry on a loopback port nobody listens on: the pull fails at once, without leaving this machine.
    const image = '127.0.0.1:1/ib-gateway-supervisor-test/missing:never';
    const name = `ibgs-test-missing-image-${process.pid}`;
    const failure = await startService(gatewayConfig(name, image), {
      gatewayContainer: { labels: { [TEST_CONTAINER_LABEL]: `docker-errors-${process.pid}` } },
    }).catch((caught: unknown) => caught);
    expect(failure).toBeInstanceOf(DomainError);
    expect(failure).toMatchObject({ code: 'NOT_FOUND', details: { image } });
    expect((failure as DomainError).message).toContain(
      `The image ${image} is not on this machine and could not be pulled`,
    );
    expect(await docker(['ps', '-aq', '--filter', `label=${INSTANCE_LABEL}=${name}`])).toBe('');
  });
});
