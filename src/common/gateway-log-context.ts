import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The gateway whose work is running, so that log lines of a supervisor with several gateways say which one
 * they are about. Each gateway's services are built inside it (their timers and sockets carry it on), and
 * every call into them from the HTTP app enters it (inGatewayLogContext).
 */
const gatewayLogContext = new AsyncLocalStorage<string>();

/** The log fields of the work running now: `{ gateway }` inside a gateway's context, else nothing. */
export function gatewayLogFields(): { gateway?: string } {
  const gateway = gatewayLogContext.getStore();
  return gateway === undefined ? {} : { gateway };
}

/** Runs `work` (and whatever it starts) in the log context of the gateway `name`. */
export function runForGateway<T>(name: string, work: () => T): T {
  return gatewayLogContext.run(name, work);
}

/** `service` with every method call run in the log context of the gateway `name`. */
export function inGatewayLogContext<T extends object>(service: T, name: string): T {
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(service, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      let wrapper = wrappers.get(key);
      if (wrapper === undefined) {
        wrapper = (...args: unknown[]): unknown =>
          runForGateway(name, () => Reflect.apply(value as (...values: unknown[]) => unknown, target, args));
        wrappers.set(key, wrapper);
      }
      return wrapper;
    },
  });
}
