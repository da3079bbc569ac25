import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import type { IncomingMessage } from 'node:http';

const REDACTED = '[redacted]';

/** Object paths that may carry a credential in any log line. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body.password',
  'password',
  '*.password',
  '*.*.password',
  'token',
  '*.token',
];

/** Replaces every occurrence of a known secret value inside a string. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let scrubbed = text;
  for (const secret of secrets) scrubbed = scrubbed.split(secret).join(REDACTED);
  return scrubbed;
}

/**
 * pino through nestjs-pino, with credential redaction twice over: known paths are censored, and the
 * actual secret values are scrubbed from every serialized line, wherever they hide.
 */
export function redactingLoggerOptions(
  level: string,
  secrets: readonly string[],
  destination?: DestinationStream,
): Params {
  const longEnough = secrets.filter((secret) => secret.length >= 3);
  const options: Options = {
    level,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    autoLogging: {
      ignore: (request: IncomingMessage) =>
        request.url === '/metrics' || request.url?.startsWith('/health') === true,
    },
    // A line per answered request is debug detail (quotes come by the thousand); failures stand out.
    customLogLevel: (_request, response, error) =>
      error !== undefined || response.statusCode >= 500
        ? 'error'
        : response.statusCode >= 400
          ? 'warn'
          : 'debug',
    ...(longEnough.length === 0
      ? {}
      : {
          hooks: {
            streamWrite: (line: string) => scrubSecrets(line, longEnough),
          },
        }),
  };
  return { pinoHttp: destination ? [options, destination] : options };
}
