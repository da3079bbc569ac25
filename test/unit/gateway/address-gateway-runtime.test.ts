import { DomainError } from '../../../src/common/domain-error';
import { AddressGatewayRuntime } from '../../../src/gateway/address-gateway-runtime';
import { GatewayService } from '../../../src/gateway/gateway.service';
import { FakeClock } from '../../support/fake-clock';
import { memoryLog, policyConfig } from './fake-gateway-runtime';

/** A gateway someone else runs: attached, presumed logged in, never started, stopped or restarted from here. */
function attached(): { gateway: GatewayService; runtime: AddressGatewayRuntime; clock: FakeClock } {
  const clock = new FakeClock();
  const runtime = new AddressGatewayRuntime({ host: 'tws.lan', port: 7497 });
  const gateway = new GatewayService(policyConfig(), runtime, memoryLog(), clock);
  return { gateway, runtime, clock };
}

describe('GatewayService on a gateway attached by address', () => {
  it('attaches without starting anything: logged in, its address and what it cannot do in the status', async () => {
    const { gateway } = attached();
    await gateway.start();
    expect(gateway.state).toBe('logged-in');
    expect(gateway.apiTarget()).toMatchObject({ host: 'tws.lan', port: 7497 });
    expect(gateway.status()).toMatchObject({
      mode: 'address',
      address: 'tws.lan:7497',
      container: null,
      controls: { lifecycle: false, logs: false, vnc: false },
      restartCount: 0,
    });
    expect((await gateway.logs(10)).lines).toEqual([]);
  });

  it('refuses every automatic restart (not-managed) and a human stop or restart (CONFLICT), counting none', async () => {
    const { gateway } = attached();
    await gateway.start();
    expect(gateway.automaticRestartRefusal()).toMatchObject({
      reason: 'not-managed',
      message: expect.stringMatching(/tws\.lan:7497 runs outside the supervisor: a human must restart it/),
    });
    expect(await gateway.requestAutomaticRestart('the ladder')).toMatchObject({
      outcome: 'refused',
      reason: 'not-managed',
    });
    for (const act of [async () => gateway.stop(), async () => gateway.restart('by hand')]) {
      const error = await act().then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ code: 'CONFLICT' });
    }
    expect(gateway.state).toBe('logged-in');
    expect(gateway.status().restartCount).toBe(0);
    expect(gateway.restartBudget().restartsLastHour).toBe(0);
  });

  it('only detaches at shutdown: the gateway is whoever runs it', async () => {
    const { gateway, runtime } = attached();
    await gateway.start();
    await gateway.shutdown();
    expect(runtime.isRunning).toBe(false);
  });
});
