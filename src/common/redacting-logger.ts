import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { Options } from 'pino-http';
import type { IncomingMessage } from 'node:http';
import { gatewayLogFields } from './gateway-log-context';
import { REDACTED, type Redactor } from './redactor';

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

/**
 * pino through nestjs-pino, with credential redaction twice over: known paths are censored, and the
 * actual secret values are taken out of every serialized line by the service's redactor, wherever they hide.
 */
export function redactingLoggerOptions(
  level: string,
  redactor: Redactor,
  destination?: DestinationStream,
): Params {
  const options: Options = {
    level,
    // With several gateways, a line about one of them names it.
    mixin: gatewayLogFields,
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
    ...(redactor.isEmpty ? {} : { hooks: { streamWrite: (line: string) => redactor.redact(line) } }),
  };
  return { pinoHttp: destination ? [options, destination] : options };
}
