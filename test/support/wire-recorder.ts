import type { IbGatewaySimulator } from '../../src/simulator/simulator';
import { formatField } from '../../src/simulator/protocol/framing';

/** Every message any simulator sent during the current test file, as the client would split it. */
const recorded: string[][] = [];

/** Records what `simulator` sends, for the decoder fidelity check that runs after each test file. */
export function recordWire(simulator: IbGatewaySimulator): void {
  simulator.tap((direction, _session, fields) => {
    if (direction === 'out') recorded.push(fields.map(formatField));
  });
}

export function recordedMessages(): readonly string[][] {
  return recorded;
}
