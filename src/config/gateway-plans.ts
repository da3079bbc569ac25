import { join } from 'node:path';
import { AppConfigSchema, type AppConfig, type GatewayEntry } from './config.schema';

/** One gateway the supervisor runs: its name, whether readiness waits for it, and its whole config. */
export interface GatewayPlan {
  name: string;
  required: boolean;
  /** The top-level settings with this gateway's own values over them; `gateways` is empty here. */
  config: AppConfig;
}

/** Where a listed gateway keeps its journal and idempotency keys: its own folder of the data dir. */
export function gatewayDataDir(dataDir: string, name: string): string {
  return join(dataDir, 'gateways', name);
}

/**
 * The gateways of a config, each with its whole config. Without a `gateways` list, the config itself is the
 * one gateway (its data dir unchanged, so a single-gateway journal stays where it was). With a list, every
 * entry's values go over the top-level ones, and what cannot be shared is made its own: the data folder,
 * the container name, Docker-picked host ports unless given, a free simulator port.
 */
export function planGateways(config: AppConfig): { plans: GatewayPlan[]; problems: string[] } {
  if (config.gateways.length === 0) {
    return { plans: [{ name: config.gateway.name, required: true, config }], problems: [] };
  }
  const plans: GatewayPlan[] = [];
  const problems: string[] = [];
  config.gateways.forEach((entry, index) => {
    const parsed = AppConfigSchema.safeParse(entryInput(config, entry));
    if (parsed.success) {
      plans.push({ name: entry.name, required: entry.required, config: parsed.data });
      return;
    }
    for (const issue of parsed.error.issues) {
      problems.push(`gateways[${index}] (${entry.name}): ${issue.path.join('.')}: ${issue.message}`);
    }
  });
  return { plans, problems };
}

/** The gateways of a valid config (loadConfig has reported every problem already). */
export function gatewayPlans(config: AppConfig): GatewayPlan[] {
  const { plans, problems } = planGateways(config);
  if (problems.length > 0) throw new Error(`Invalid gateways list:\n  - ${problems.join('\n  - ')}`);
  return plans;
}

function entryInput(config: AppConfig, entry: GatewayEntry): unknown {
  return {
    ...config,
    gateways: [],
    dataGateway: undefined,
    ib: { ...config.ib, ...entry.ib },
    gateway: {
      ...config.gateway,
      containerName: `${config.gateway.containerName}-${entry.name}`,
      apiPort: 0,
      vncPort: 0,
      ...entry.gateway,
      name: entry.name,
    },
    watchdog: { ...config.watchdog, ...entry.watchdog },
    orders: { ...config.orders, ...entry.orders },
    dataDir: gatewayDataDir(config.dataDir, entry.name),
    simulator: { ...config.simulator, port: 0 },
  };
}

/** The gateway data, contracts and the scanner go to: the configured one, else the first. */
export function dataGatewayName(config: AppConfig, plans: readonly GatewayPlan[]): string {
  return config.dataGateway ?? plans[0]?.name ?? config.gateway.name;
}
