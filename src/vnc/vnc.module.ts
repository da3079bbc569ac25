import { Module } from '@nestjs/common';
import { SecurityModule } from '../security/security.module';
import { RoutedVncTarget } from './routed-vnc-target';
import { VncController } from './vnc.controller';
import { VNC_TARGET } from './vnc-target';
import { VncWebsocketProxy } from './vnc-websocket-proxy';

/** /vnc: the noVNC page and the websocket-to-VNC proxy to the gateway's screen. */
@Module({
  imports: [SecurityModule],
  controllers: [VncController],
  providers: [{ provide: VNC_TARGET, useClass: RoutedVncTarget }, VncWebsocketProxy],
})
export class VncModule {}
