import { connect, type Socket } from 'node:net';
import { IbGatewaySimulator } from '../../../src/simulator/simulator';
import { decodeFields, encodeFrame, type WireScalar } from '../../../src/simulator/protocol/framing';
import { Reply, Request } from '../../../src/simulator/protocol/message-ids';
import { recordWire } from '../../support/wire-recorder';

/** A TWS API client over a bare socket: it frames what the test writes and keeps every message it reads. */
class RawClient {
  readonly received: string[][] = [];
  closed = false;
  private buffered = Buffer.alloc(0);
  private readonly waiters: (() => void)[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Connects and sends the handshake: "API\0" and the framed version range ("v100..193"). */
  static async open(port: number, versions: string): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    const range = Buffer.from(versions, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(range.length);
    socket.write(Buffer.concat([Buffer.from('API\0', 'latin1'), length, range]));
    return client;
  }

  /** Opens a session at the highest version, sends START_API and waits for NEXT_VALID_ID. */
  static async started(port: number, clientId: number, versions = 'v100..193'): Promise<RawClient> {
    const client = await RawClient.open(port, versions);
    await client.next((fields) => fields.length === 2, 'the handshake answer');
    client.send([Request.START_API, 2, clientId, '']);
    await client.next((fields) => fields[0] === String(Reply.NEXT_VALID_ID), 'NEXT_VALID_ID');
    return client;
  }

  send(fields: readonly WireScalar[]): void {
    this.socket.write(encodeFrame(fields));
  }

  /** The first message (from index `from` on) that `matches`, waiting up to `ms` for it. */
  async next(matches: (fields: string[]) => boolean, what: string, from = 0, ms = 5000): Promise<string[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.received.slice(from).find(matches);
      if (found) return found;
      if (this.closed) throw new Error(`The connection closed before ${what} arrived`);
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** The ERR_MSG for `id` with `code` sent after message index `from`. */
  async error(id: number, code: number, from: number): Promise<string[]> {
    return this.next(
      (fields) =>
        fields[0] === String(Reply.ERR_MSG) && fields[2] === String(id) && fields[3] === String(code),
      `error ${code} for id ${id}`,
      from,
    );
  }

  async waitClosed(ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('The connection stayed open');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 4) {
      const length = this.buffered.readUInt32BE(0);
      if (this.buffered.length < 4 + length) break;
      this.received.push(decodeFields(this.buffered.subarray(4, 4 + length)));
      this.buffered = this.buffered.subarray(4 + length);
    }
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

const CURRENT_TIME = String(Reply.CURRENT_TIME);

/**
 * IB answers a request it cannot read with error 320 and one it reads but cannot accept with 321, for the
 * request's id where the request carries one (-1 otherwise), and keeps the session open; a client whose
 * offered versions it does not speak is disconnected. Driven over a bare socket, below any client library.
 */
describe('simulator: requests it cannot read', () => {
  let simulator: IbGatewaySimulator;
  let port: number;
  const clients: RawClient[] = [];
  let nextClientId = 600;

  const started = async (versions?: string): Promise<RawClient> => {
    const client = await RawClient.started(port, nextClientId++, versions);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    simulator = new IbGatewaySimulator({ accounts: ['DU1111111'] });
    recordWire(simulator);
    port = await simulator.start();
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => simulator.stop());

  it('answers an unknown message id with 320 for id -1 and goes on answering', async () => {
    const client = await started();
    const from = client.received.length;
    client.send([9999, 1, 42]);
    const error = await client.error(-1, 320, from);
    expect(error[4]).toBe('Server error when reading an API client request. Unknown message id 9999.');
    client.send([Request.REQ_CURRENT_TIME, 1]);
    const time = await client.next((fields) => fields[0] === CURRENT_TIME, 'CURRENT_TIME', from);
    expect(Math.abs(Number(time[2]) - Date.now() / 1000)).toBeLessThan(5);
    expect(client.closed).toBe(false);
  });

  it('answers a truncated REQ_CONTRACT_DATA with 320 for its request id, then serves the next one', async () => {
    const client = await started();
    const from = client.received.length;
    // Version, reqId, conId, symbol, and nothing after: the contract is cut short.
    client.send([Request.REQ_CONTRACT_DATA, 8, 7001, 0, 'AAPL']);
    const error = await client.error(7001, 320, from);
    expect(error[4]).toMatch(/^Server error when reading an API client request\./);
    // Nothing else answered the broken request: no contract data, no end marker for it.
    expect(
      client.received
        .slice(from)
        .filter((fields) => fields[0] === String(Reply.CONTRACT_DATA_END) && fields[2] === '7001'),
    ).toEqual([]);

    const full = [
      Request.REQ_CONTRACT_DATA,
      8,
      7002,
      0,
      'AAPL',
      'STK',
      '',
      0,
      '',
      '',
      'SMART',
      '',
      'USD',
      '',
      '',
    ];
    client.send([...full, 0, '', '', '']);
    await client.next(
      (fields) => fields[0] === String(Reply.CONTRACT_DATA_END) && fields[2] === '7002',
      'CONTRACT_DATA_END for 7002',
      from,
    );
    const details = client.received.find(
      (fields) => fields[0] === String(Reply.CONTRACT_DATA) && fields.includes('265598'),
    );
    expect(details).toBeDefined();
  });

  it('answers a request id that is not a number with 320 for id -1', async () => {
    const client = await started();
    const from = client.received.length;
    client.send([Request.REQ_CONTRACT_DATA, 8, 'seven', 0, 'AAPL', 'STK', '', 0, '', '', 'SMART', '', 'USD']);
    await client.error(-1, 320, from);
    client.send([Request.REQ_CURRENT_TIME, 1]);
    await client.next((fields) => fields[0] === CURRENT_TIME, 'CURRENT_TIME', from);
  });

  it('answers a request its session version does not have with 321 for its id', async () => {
    // reqUserInfo arrived at v167: a v157 session reads it but cannot accept it.
    const client = await started('v100..157');
    const from = client.received.length;
    client.send([Request.REQ_USER_INFO, 4242]);
    const error = await client.error(4242, 321, from);
    expect(error[4]).toMatch(/^Server error when validating an API client request\./);
    client.send([Request.REQ_CURRENT_TIME, 1]);
    await client.next((fields) => fields[0] === CURRENT_TIME, 'CURRENT_TIME', from);
  });

  it.each(['v100..150', 'v194..200'])('disconnects a client offering only %s', async (versions) => {
    const client = await RawClient.open(port, versions);
    clients.push(client);
    await client.waitClosed();
    expect(client.received).toEqual([]);
  });

  it('answers an offer of v157..178 with 178', async () => {
    const client = await RawClient.open(port, 'v157..178');
    clients.push(client);
    const [version, connectionTime] = await client.next(
      (fields) => fields.length === 2,
      'the handshake answer',
    );
    expect(version).toBe('178');
    expect(connectionTime).toMatch(/^\d{8} \d{2}:\d{2}:\d{2} /);
  });
});
