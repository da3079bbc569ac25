import { ConnectionState, IBApiNext, SecType, type Contract } from '@stoqey/ib';
import { Agent, request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { filter, firstValueFrom, timeout } from 'rxjs';
import {
  check,
  connectMcp,
  elapsedMs,
  percentiles,
  printTable,
  round,
  sleep,
  startReadyService,
  writeResult,
  type Percentiles,
} from './support';

/**
 * Overhead: the same snapshot quote (AAPL) fetched directly with @stoqey/ib from the simulator, through REST
 * (two clients) and through MCP, interleaved round by round (rotating the order) so that all see the same machine.
 * Rounds are paced so that no path waits for its turn in a pacing gate: this measures overhead, not pacing.
 */
const ROUNDS = Number(process.env.BENCH_OVERHEAD_ROUNDS ?? 2000);
/** Four service quotes per round: 24/s stays inside the market data module's own 30 messages/s pacing. */
const ROUNDS_PER_SECOND = 6;
const SYMBOL = 'AAPL';

/**
 * Each face is measured with two clients, to tell the service's cost from the client's. REST: Node's http module
 * (keep-alive), and fetch (undici), which costs a little more on the client side; the REST target is judged on
 * the first. MCP: the MCP SDK's client (what assistants use; the MCP target is judged on it), and a minimal
 * JSON-RPC client over Node's http module that speaks the same Streamable HTTP protocol.
 */
type Path = 'direct' | 'rest' | 'rest-fetch' | 'mcp' | 'mcp-jsonrpc';

interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

/** One request with Node's http module over a kept-alive connection; resolves status, content type and body. */
async function send(
  url: string,
  agent: Agent,
  options: { method?: 'GET' | 'POST'; headers?: OutgoingHttpHeaders; body?: string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { agent, method: options.method ?? 'GET', headers: options.headers },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: response.headers['content-type'] ?? '',
            body,
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** The protocol version the minimal client announces (one the MCP SDK server accepts). */
const MCP_PROTOCOL_VERSION = '2025-06-18';

/**
 * A minimal MCP client: initialize, notifications/initialized, then tools/call as JSON-RPC POSTs. The service
 * runs MCP statelessly and answers with plain JSON, which this client insists on.
 */
async function connectJsonRpc(
  url: string,
  agent: Agent,
): Promise<(name: string, args: object) => Promise<unknown>> {
  let nextId = 1;
  const post = async (message: object): Promise<HttpAnswer> =>
    send(url, agent, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': MCP_PROTOCOL_VERSION,
      },
      body: JSON.stringify({ jsonrpc: '2.0', ...message }),
    });
  const rpc = async (method: string, params: object): Promise<unknown> => {
    const answer = await post({ id: nextId++, method, params });
    check(
      answer.status === 200 && answer.contentType.startsWith('application/json'),
      `MCP ${method} answered ${answer.status} ${answer.contentType}: ${answer.body}`,
    );
    const message = JSON.parse(answer.body) as { result?: unknown; error?: unknown };
    check(message.error === undefined, `MCP ${method} failed: ${answer.body}`);
    return message.result;
  };
  await rpc('initialize', {
    protocolVersion: MCP_PROTOCOL_VERSION,
    capabilities: {},
    clientInfo: { name: 'ibgs-bench-jsonrpc', version: '1.0.0' },
  });
  const initialized = await post({ method: 'notifications/initialized' });
  check(initialized.status === 202, `MCP notifications/initialized answered ${initialized.status}`);
  return async (name, args) => rpc('tools/call', { name, arguments: args });
}

export async function runOverhead(): Promise<Record<string, unknown>> {
  const service = await startReadyService();
  const simulator = service.simulator;
  check(simulator !== undefined, 'the service runs against its in-process simulator');
  const direct = new IBApiNext({ host: '127.0.0.1', port: simulator.port, reconnectInterval: 0 });
  const mcp = await connectMcp(service.urls.mcp);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const mcpAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const callToolJsonRpc = await connectJsonRpc(service.urls.mcp, mcpAgent);
  try {
    direct.connect(901);
    await firstValueFrom(
      direct.connectionState.pipe(
        filter((state) => state === ConnectionState.Connected),
        timeout(10_000),
      ),
    );
    const details = await direct.getContractDetails({
      symbol: SYMBOL,
      secType: SecType.STK,
      exchange: 'SMART',
      currency: 'USD',
    });
    const contract: Contract | undefined = details[0]?.contract;
    check(contract?.conId !== undefined, `${SYMBOL} resolves on the simulator`);

    const fetchers: Record<Path, () => Promise<number>> = {
      direct: async () => {
        const ticks = await direct.getMarketDataSnapshot(contract, '', false);
        return ticks.size;
      },
      rest: async () => {
        const { status, body } = await send(`${service.urls.base}/market-data/quote?symbol=${SYMBOL}`, agent);
        check(status === 200, `REST quote answered ${status}: ${body}`);
        return (JSON.parse(body) as { bid?: number | null }).bid === null ? 0 : 1;
      },
      'rest-fetch': async () => {
        const response = await fetch(`${service.urls.base}/market-data/quote?symbol=${SYMBOL}`);
        const body = (await response.json()) as { bid?: number | null };
        check(response.status === 200, `REST quote answered ${response.status}: ${JSON.stringify(body)}`);
        return body.bid === null ? 0 : 1;
      },
      mcp: async () => {
        const result = await mcp.callTool({ name: 'get_quote', arguments: { symbol: SYMBOL } });
        check(result.isError !== true, `MCP quote failed: ${JSON.stringify(result.content)}`);
        return result.structuredContent === undefined ? 0 : 1;
      },
      'mcp-jsonrpc': async () => {
        const result = (await callToolJsonRpc('get_quote', { symbol: SYMBOL })) as {
          isError?: boolean;
          structuredContent?: unknown;
        };
        check(result.isError !== true, `MCP quote failed: ${JSON.stringify(result)}`);
        return result.structuredContent === undefined ? 0 : 1;
      },
    };
    const paths: Path[] = ['direct', 'rest', 'rest-fetch', 'mcp', 'mcp-jsonrpc'];
    const samples: Record<Path, number[]> = {
      direct: [],
      rest: [],
      'rest-fetch': [],
      mcp: [],
      'mcp-jsonrpc': [],
    };

    // Warm-up: JIT, connection pools, the contract cache.
    for (let round = 0; round < 50; round++) for (const path of paths) await fetchers[path]();

    const roundBudgetMs = 1000 / ROUNDS_PER_SECOND;
    for (let round = 0; round < ROUNDS; round++) {
      const roundStart = Date.now();
      for (let offset = 0; offset < paths.length; offset++) {
        const path = paths[(round + offset) % paths.length] as Path;
        const start = process.hrtime.bigint();
        await fetchers[path]();
        samples[path].push(elapsedMs(start));
      }
      if ((round + 1) % 500 === 0) console.log(`  overhead: ${round + 1}/${ROUNDS} rounds`);
      const spare = roundBudgetMs - (Date.now() - roundStart);
      if (spare > 0) await sleep(spare);
    }

    const stats = Object.fromEntries(paths.map((path) => [path, percentiles(samples[path])])) as Record<
      Path,
      Percentiles
    >;
    const pacingViolations = simulator.stats().pacingViolations;
    printTable(`Overhead: ${ROUNDS} snapshot quotes of ${SYMBOL} per path, interleaved (ms)`, [
      ['path', 'p50', 'p95', 'p99', 'p50 vs direct', 'p50 - direct'],
      ...paths.map((path) => [
        path,
        stats[path].p50,
        stats[path].p95,
        stats[path].p99,
        `${round(stats[path].p50 / stats.direct.p50)}x`,
        round(stats[path].p50 - stats.direct.p50, 3),
      ]),
    ]);
    console.log(
      `targets: REST p50 within 1 ms of direct (${round(stats.rest.p50 - stats.direct.p50, 3)} ms with node:http, ` +
        `${round(stats['rest-fetch'].p50 - stats.direct.p50, 3)} ms with fetch), ` +
        `MCP p50 within 3 ms (${round(stats.mcp.p50 - stats.direct.p50, 3)} ms with the MCP SDK client, ` +
        `${round(stats['mcp-jsonrpc'].p50 - stats.direct.p50, 3)} ms with a minimal JSON-RPC client); ` +
        `simulator pacing violations: ${pacingViolations}`,
    );
    const result = {
      rounds: ROUNDS,
      symbol: SYMBOL,
      roundsPerSecond: ROUNDS_PER_SECOND,
      latencyMs: stats,
      ratioToDirect: Object.fromEntries(paths.map((path) => [path, stats[path].p50 / stats.direct.p50])),
      p50MinusDirectMs: Object.fromEntries(paths.map((path) => [path, stats[path].p50 - stats.direct.p50])),
      pacingViolations,
    };
    writeResult('overhead', result);
    return result;
  } finally {
    direct.disconnect();
    agent.destroy();
    mcpAgent.destroy();
    await mcp.close();
    await service.close();
  }
}

if (require.main === module) {
  runOverhead().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
