import type { Options } from 'pino-http';
import { redactingLoggerOptions } from '../../../src/common/redacting-logger';
import { MIN_SECRET_LENGTH, REDACTED, Redactor } from '../../../src/common/redactor';
import { AppConfigSchema, CONFIG_DEFAULTS, type AppConfig } from '../../../src/config/config.schema';
import { SETTINGS } from '../../../src/config/settings';

const PASSWORD = 'ib-password-1234';
const VNC_PASSWORD = 'vnc12345';
const API_TOKEN = 'api-token-0123456789abcdef';
const READ_ONLY_TOKEN = 'read-only-token-0123456789';

function config(overrides: Partial<AppConfig> = {}): AppConfig {
  return AppConfigSchema.parse({ ...CONFIG_DEFAULTS, ...overrides });
}

function configWithSecrets(): AppConfig {
  return config({
    ib: { ...CONFIG_DEFAULTS.ib, username: 'trader1', password: PASSWORD },
    gateway: { ...CONFIG_DEFAULTS.gateway, vncPassword: VNC_PASSWORD },
    security: { ...CONFIG_DEFAULTS.security, apiToken: API_TOKEN, readOnlyToken: READ_ONLY_TOKEN },
  });
}

/** A config-shaped copy of `source` with `value` at the dotted `path`. */
function withValueAt(source: AppConfig, path: string, value: string): AppConfig {
  const copy = structuredClone(source) as unknown as Record<string, unknown>;
  const keys = path.split('.');
  let node = copy;
  for (const key of keys.slice(0, -1)) {
    node[key] = { ...(node[key] ?? {}) };
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1] ?? ''] = value;
  return copy as unknown as AppConfig;
}

describe('Redactor', () => {
  describe('fromConfig', () => {
    it('takes the secrets from the settings marked secret (IB password, VNC password, both API tokens) and the IB username', () => {
      const secretPaths = SETTINGS.filter((setting) => setting.secret).map((setting) => setting.path);
      expect(secretPaths.sort()).toEqual(
        ['gateway.vncPassword', 'ib.password', 'security.apiToken', 'security.readOnlyToken'].sort(),
      );
      const redactor = Redactor.fromConfig(configWithSecrets());
      const text = `pw=${PASSWORD} vnc=${VNC_PASSWORD} token=${API_TOKEN} ro=${READ_ONLY_TOKEN} user=trader1 other=trader2`;
      expect(redactor.redact(text)).toBe(
        `pw=${REDACTED} vnc=${REDACTED} token=${REDACTED} ro=${REDACTED} user=${REDACTED} other=trader2`,
      );
    });

    it('redacts every setting marked secret, so a new secret setting is covered without more code', () => {
      for (const setting of SETTINGS.filter((candidate) => candidate.secret)) {
        const value = `value-of-${setting.path}-0123456789`;
        const redactor = Redactor.fromConfig(withValueAt(config(), setting.path, value));
        expect({ path: setting.path, text: redactor.redact(`[${value}]`) }).toEqual({
          path: setting.path,
          text: `[${REDACTED}]`,
        });
      }
    });

    it('builds one redactor per configuration', () => {
      const withSecrets = configWithSecrets();
      expect(Redactor.fromConfig(withSecrets)).toBe(Redactor.fromConfig(withSecrets));
      expect(Redactor.fromConfig(config())).not.toBe(Redactor.fromConfig(withSecrets));
    });

    it('redacts nothing without secrets', () => {
      const redactor = Redactor.fromConfig(config());
      expect(redactor.isEmpty).toBe(true);
      const value = { a: ['b'] };
      expect(redactor.redact('anything at all')).toBe('anything at all');
      expect(redactor.redactDeep(value)).toBe(value);
    });
  });

  describe('redact', () => {
    it('replaces every occurrence', () => {
      const redactor = new Redactor([PASSWORD]);
      expect(redactor.redact(`${PASSWORD}${PASSWORD} and ${PASSWORD}`)).toBe(
        `${REDACTED}${REDACTED} and ${REDACTED}`,
      );
    });

    it('applies one length threshold: shorter secrets are left, longer ones redacted', () => {
      const short = 'x'.repeat(MIN_SECRET_LENGTH - 1);
      const enough = 'y'.repeat(MIN_SECRET_LENGTH);
      const redactor = new Redactor([short, enough, undefined]);
      expect(redactor.redact(`${short}|${enough}`)).toBe(`${short}|${REDACTED}`);
      expect(new Redactor([short]).isEmpty).toBe(true);
    });

    it('finds a secret as JSON escapes it, URL-encodes it, or base64-encodes it', () => {
      const secret = 'p@ss "word"\\/ ü';
      const redactor = new Redactor([secret]);
      const forms = [
        secret,
        JSON.stringify(secret).slice(1, -1),
        encodeURIComponent(secret),
        Buffer.from(secret).toString('base64'),
      ];
      for (const form of forms) expect(redactor.redact(`<${form}>`)).toBe(`<${REDACTED}>`);
      // A JSON log line keeps its structure.
      const line = JSON.stringify({ msg: `login with ${secret}` });
      expect(JSON.parse(redactor.redact(line))).toEqual({ msg: `login with ${REDACTED}` });
    });

    it('takes a secret containing another whole, and reads secrets as text, not patterns', () => {
      const redactor = new Redactor(['abc', 'xxabcxx', 'a.c+(d)*']);
      expect(redactor.redact('xxabcxx abc')).toBe(`${REDACTED} ${REDACTED}`);
      expect(redactor.redact('a.c+(d)* aXc+(d)')).toBe(`${REDACTED} aXc+(d)`);
    });

    it('gives the same answer on every call (no state left between calls)', () => {
      const redactor = new Redactor([PASSWORD]);
      for (let i = 0; i < 3; i++) expect(redactor.redact(`a ${PASSWORD}`)).toBe(`a ${REDACTED}`);
      expect(redactor.redact('clean')).toBe('clean');
    });
  });

  describe('redactDeep', () => {
    const redactor = new Redactor([PASSWORD, API_TOKEN]);

    it('redacts strings anywhere in a JSON-like value, keys included', () => {
      const entry = {
        at: '2026-01-01T00:00:00.000Z',
        type: 'request',
        orderId: 7,
        flag: true,
        none: null,
        request: { note: `pw ${PASSWORD}`, tags: ['ok', API_TOKEN], [PASSWORD]: 1 },
      };
      expect(redactor.redactDeep(entry)).toEqual({
        at: '2026-01-01T00:00:00.000Z',
        type: 'request',
        orderId: 7,
        flag: true,
        none: null,
        request: { note: `pw ${REDACTED}`, tags: ['ok', REDACTED], [REDACTED]: 1 },
      });
      expect(entry.request.note).toBe(`pw ${PASSWORD}`); // the original is left as it was
    });

    it('returns a value without a secret as is, and shares the parts without one', () => {
      const clean = { a: { b: [1, 'two'] }, c: 'three' };
      expect(redactor.redactDeep(clean)).toBe(clean);
      const mixed = { clean: { deep: ['x'] }, dirty: PASSWORD };
      const redacted = redactor.redactDeep(mixed);
      expect(redacted).not.toBe(mixed);
      expect(redacted.clean).toBe(mixed.clean);
      expect(redacted.dirty).toBe(REDACTED);
    });

    it('sees objects as JSON does: a Date stays, a class instance by its own fields', () => {
      class Note {
        constructor(readonly text: string) {}
      }
      const at = new Date(0);
      const value = { at, note: new Note(`with ${PASSWORD}`) };
      const redacted = redactor.redactDeep(value);
      expect(redacted.at).toBe(at);
      expect(JSON.stringify(redacted)).toBe(JSON.stringify({ at, note: { text: `with ${REDACTED}` } }));
    });

    it('survives a cycle', () => {
      const value: Record<string, unknown> = { secret: PASSWORD };
      value.self = value;
      const redacted = redactor.redactDeep(value);
      expect(redacted.secret).toBe(REDACTED);
      expect((redacted.self as Record<string, unknown>).secret).toBe(REDACTED);
    });
  });

  describe('the logger options', () => {
    it("scrub every serialized log line with the redactor, and leave lines alone when there's no secret", () => {
      const redactor = new Redactor([PASSWORD]);
      const options = redactingLoggerOptions('info', redactor).pinoHttp as Options;
      const line = `{"msg":"failed with ${PASSWORD}"}\n`;
      expect(options.hooks?.streamWrite?.(line)).toBe(`{"msg":"failed with ${REDACTED}"}\n`);
      const none = redactingLoggerOptions('info', new Redactor([])).pinoHttp as Options;
      expect(none.hooks).toBeUndefined();
    });
  });
});
