import type { IbGatewaySimulator } from '../../src/simulator/simulator';
import { formatField } from '../../src/simulator/protocol/framing';

/** One message a simulator sent, as the client would split it, and the version its session spoke. */
export interface RecordedMessage {
  serverVersion: number;
  fields: string[];
}

/** Every message any simulator sent during the current test file. */
const recorded: RecordedMessage[] = [];

/** Records what `simulator` sends, for the decoder fidelity check that runs after each test file. */
export function recordWire(simulator: IbGatewaySimulator): void {
  simulator.tap((direction, session, fields) => {
    if (direction === 'out')
      recorded.push({ serverVersion: session.serverVersion, fields: fields.map(formatField) });
  });
}

export function recordedMessages(): readonly RecordedMessage[] {
  return recorded;
}
