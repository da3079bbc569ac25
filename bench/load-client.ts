import autocannon from 'autocannon';

/**
 * The load generator, run as its own process so that it does not share an event loop with the service:
 * `node load-client.js <base-url> <conIds,comma-separated> <concurrency> <durationMs>`. autocannon keeps
 * `concurrency` keep-alive connections busy, each cycling through quotes of the contracts; prints one JSON line.
 */
export interface LoadClientResult {
  requests: number;
  failures: number;
  fromStream: number;
  durationMs: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
}

async function main(): Promise<void> {
  const [base, conIdList, concurrencyText, durationText] = process.argv.slice(2);
  if (!base || !conIdList || !concurrencyText || !durationText) {
    throw new Error('usage: load-client <base-url> <conIds> <concurrency> <durationMs>');
  }
  let fromStream = 0;
  const result = await autocannon({
    url: base,
    connections: Number(concurrencyText),
    duration: Number(durationText) / 1000,
    requests: conIdList.split(',').map((conId) => ({
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
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
