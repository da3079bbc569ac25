import { z } from 'zod';

/**
 * The `gateway` argument every operation takes: which gateway answers, by the name list_gateways shows.
 * Needed only when several could (orders and account reads also route by their account).
 */
export const gatewayArgument = {
  gateway: z
    .string()
    .min(1)
    .max(32)
    .optional()
    .describe(
      'Which gateway answers, by name (list_gateways); needed only when several could. Orders and account reads also go by their account.',
    ),
};
