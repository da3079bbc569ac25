import { elapsedMs } from './support';

/**
 * The load generator, run as its own process so that it does not share an event loop with the service:
 * `node load-client.js <base-url> <conIds,comma-separated> <concurrency> <durationMs>`. Each of the
 * concurrent clients asks quotes in a loop, cycling through the contracts; prints one JSON line of results.
 */
export interface LoadClientResult {
  requests: number;
  failures: number;
  firstFailure: string | undefined;
  fromStream: number;
  durationMs: number;
  latenciesMs: number[];
}

async function main(): Promise<void> {
  const [base, conIdList, concurrencyText, durationText] = process.argv.slice(2);
  if (!base || !conIdList || !concurrencyText || !durationText) {
    throw new Error('usage: load-client <base-url> <conIds> <concurrency> <durationMs>');
  }
  const conIds = conIdList.split(',');
  const concurrency = Number(concurrencyText);
  const durationMs = Number(durationText);
  const result: LoadClientResult = {
    requests: 0,
    failures: 0,
    firstFailure: undefined,
    fromStream: 0,
    durationMs: 0,
    latenciesMs: [],
  };
  const start = process.hrtime.bigint();
  const deadline = Date.now() + durationMs;
  const client = async (index: number) => {
    let next = index;
    while (Date.now() < deadline) {
      const conId = conIds[next++ % conIds.length] ?? '';
      const requestStart = process.hrtime.bigint();
      const response = await fetch(`${base}/market-data/quote?conId=${conId}`);
      const body = (await response.json()) as { source?: string; message?: string };
      result.latenciesMs.push(elapsedMs(requestStart));
      result.requests++;
      if (response.status !== 200) {
        result.failures++;
        result.firstFailure ??= `${response.status} ${body.message ?? ''}`;
      } else if (body.source === 'stream') {
        result.fromStream++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, async (_, index) => client(index)));
  result.durationMs = elapsedMs(start);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
