import { Decoder } from '@stoqey/ib/dist/core/io/decoder';
import { recordedMessages } from './wire-recorder';

/**
 * Fidelity check: after each test file, every message a simulator sent is fed to @stoqey/ib's own
 * Decoder, set to the protocol version the message's session negotiated; any decoding error (505: unknown
 * id, underrun, unprocessed fields) fails the file.
 */
afterAll(() => {
  const messages = recordedMessages();
  if (messages.length === 0) return;
  const decodeErrors: string[] = [];
  const decoders = new Map<number, Decoder>();
  const decoderAt = (serverVersion: number): Decoder => {
    let decoder = decoders.get(serverVersion);
    if (!decoder) {
      decoder = new Decoder({
        serverVersion,
        emitEvent: () => undefined,
        emitInfo: () => undefined,
        emitError: (text: string, code: number) => {
          if (code === 505) decodeErrors.push(`v${serverVersion}: ${text}`);
        },
      });
      decoders.set(serverVersion, decoder);
    }
    return decoder;
  };
  for (const { serverVersion, fields } of messages) {
    // The first message of a connection is the version handshake, which the Decoder never sees.
    if (fields.length === 2 && fields[0] === String(serverVersion)) continue;
    const before = decodeErrors.length;
    const decoder = decoderAt(serverVersion);
    decoder.enqueueMessage([...fields]);
    decoder.process();
    if (decodeErrors.length > before) decodeErrors.push(`  in message: ${JSON.stringify(fields)}`);
  }
  expect(decodeErrors).toEqual([]);
});
