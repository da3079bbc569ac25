import { Decoder } from '@stoqey/ib/dist/core/io/decoder';
import { recordedMessages } from './wire-recorder';
import { SERVER_VERSION } from '../../src/simulator/protocol/message-ids';

/**
 * Fidelity check: after each test file, every message a simulator sent is fed to @stoqey/ib's own
 * Decoder; any decoding error (505: unknown id, underrun, unprocessed fields) fails the file.
 */
afterAll(() => {
  const messages = recordedMessages();
  if (messages.length === 0) return;
  const decodeErrors: string[] = [];
  const decoder = new Decoder({
    serverVersion: SERVER_VERSION,
    emitEvent: () => undefined,
    emitInfo: () => undefined,
    emitError: (text: string, code: number) => {
      if (code === 505) decodeErrors.push(text);
    },
  });
  for (const fields of messages) {
    // The first message of a connection is the version handshake, which the Decoder never sees.
    if (fields.length === 2 && fields[0] === String(SERVER_VERSION)) continue;
    const before = decodeErrors.length;
    decoder.enqueueMessage([...fields]);
    decoder.process();
    if (decodeErrors.length > before) decodeErrors.push(`  in message: ${JSON.stringify(fields)}`);
  }
  expect(decodeErrors).toEqual([]);
});
