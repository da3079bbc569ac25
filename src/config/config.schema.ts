import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every setting of the service, validated once at start-up. Secrets are never logged or echoed. */
export const AppConfigSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    logLevel: z.enum(LOG_LEVELS),
    ib: z.object({
      /** IB user name; absent means "run against the built-in simulator". */
      username: z.string().min(1).optional(),
      /** IB password, read from --password-file / IBGS_PASSWORD_FILE or IBGS_PASSWORD. */
      password: z.string().min(1).optional(),
      tradingMode: z.enum(['paper', 'live']),
      /** API client id the service uses for its own session. */
      clientId: z.number().int().min(0).max(2147483647),
    }),
    simulator: z.object({
      /** TWS API port of the in-process simulator; 0 picks a free one. */
      port: z.number().int().min(0).max(65535),
      seed: z.number().int(),
    }),
  })
  .superRefine((config, context) => {
    if (config.ib.username !== undefined && config.ib.password === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['ib', 'password'],
        message: 'a password is required with a username (--password-file or IBGS_PASSWORD_FILE)',
      });
    }
    if (config.ib.password !== undefined && config.ib.username === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['ib', 'username'],
        message: 'a username is required with a password',
      });
    }
  });

export type AppConfig = z.infer<typeof AppConfigSchema>;

/** True when the service should run against the in-process simulator instead of a real gateway. */
export function usesSimulator(config: AppConfig): boolean {
  return config.ib.username === undefined;
}
