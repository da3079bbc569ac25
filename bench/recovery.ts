/** Placeholder replaced once the recovery ladder lands. */
export async function runRecovery(): Promise<Record<string, unknown>> {
  return Promise.reject(new Error('recovery benchmark not written yet'));
}
