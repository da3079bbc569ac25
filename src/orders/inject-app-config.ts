import { forwardRef, Inject } from '@nestjs/common';
import { APP_CONFIG } from '../app.module';

/**
 * Injects the app's config. app.module.ts imports this module's classes before it defines APP_CONFIG,
 * so the token is read lazily (forwardRef) rather than when the decorators run.
 */
export const InjectAppConfig = (): PropertyDecorator & ParameterDecorator =>
  Inject(forwardRef(() => APP_CONFIG));
