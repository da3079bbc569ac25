// STUB: replaced by the VNC implementation.
export interface VncServerOptions {
  host: string;
  port: number;
  password?: string | undefined;
  title: string;
  statusLines: () => string[];
}

export class VncServer {
  constructor(readonly options: VncServerOptions) {}
  get port(): number | undefined {
    return undefined;
  }
  async listen(): Promise<number> {
    return Promise.resolve(0);
  }
  async close(): Promise<void> {
    return Promise.resolve();
  }
  refresh(): void {}
}
