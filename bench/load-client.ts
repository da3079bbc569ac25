import autocannon from 'autocannon';

/**
 * The load generator, run as its own process so that it does not share an event loop with the service:
 * `node load-client.js <base-url> <conIds,comma-separated> <concurrency> <durationMs>`. It first opens quote
 * streams (server-sent events, STREAM_SIZE contracts each) so that the service streams every contract, and
 * keeps reading them; then autocannon keeps `concurrency` keep-alive connections busy, each cycling through
 * quotes of the contracts. Prints one JSON line.
 */
const STREAM_SIZE = 20;
const FIRST_QUOTES_TIMEOUT_MS = 30_000;
export interface LoadClientResult {
  requests: number;
  failures: number;
  fromStream: number;
  durationMs: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

/** Opens a quote stream and resolves once every contract in it has sent a quote; reading goes on after. */
async function openStream(base: string, conIds: number[], abort: AbortSignal): Promise<void> {
  const response = await fetch(`${base}/market-data/stream?conIds=${conIds.join(',')}`, { signal: abort });
  if (response.status !== 200 || response.body === null) {
    throw new Error(`stream answered ${response.status}: ${await response.text()}`);
  }
  const waiting = new Set(conIds);
  const decoder = new TextDecoder();
  let buffered = '';
  const reader = response.body.getReader();
  const deadline = Date.now() + FIRST_QUOTES_TIMEOUT_MS;
  while (waiting.size > 0) {
    if (Date.now() > deadline) throw new Error(`no quote within 30 s for conIds ${[...waiting].join(',')}`);
    const { value, done } = await reader.read();
    if (done) throw new Error('the stream ended early');
    buffered += decoder.decode(value as Uint8Array, { stream: true });
    for (const match of buffered.matchAll(/"conId":(\d+)/g)) waiting.delete(Number(match[1]));
    buffered = buffered.slice(buffered.lastIndexOf('\n') + 1);
  }
  // Keep reading (and discarding) so the service never sees a slow consumer.
  void (async () => {
    for (;;) {
      const { done } = await reader.read().catch(() => ({ done: true }));
      if (done) return;
    }
  })();
}

async function main(): Promise<void> {
  const [base, conIdList, concurrencyText, durationText] = process.argv.slice(2);
  if (!base || !conIdList || !concurrencyText || !durationText) {
    throw new Error('usage: load-client <base-url> <conIds> <concurrency> <durationMs>');
  }
  const conIds = conIdList.split(',').map(Number);
  const streams = new AbortController();
  for (let offset = 0; offset < conIds.length; offset += STREAM_SIZE) {
    await openStream(base, conIds.slice(offset, offset + STREAM_SIZE), streams.signal);
  }
  let fromStream = 0;
  const result = await autocannon({
    url: base,
    connections: Number(concurrencyText),
    duration: Number(durationText) / 1000,
    requests: conIds.map((conId) => ({
      method: 'GET' as const,
      path: `/market-data/quote?conId=${conId}`,
      onResponse: (status: number, body: string) => {
        if (status === 200 && body.includes('"source":"stream"')) fromStream++;
      },
    })),
  });
  const output: LoadClientResult = {
    requests: result.requests.total,
    failures: result.non2xx + result.errors + result.timeouts,
    fromStream,
    durationMs: result.duration * 1000,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.average,
    },
  };
  streams.abort();
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
