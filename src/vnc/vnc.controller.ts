import { Controller, Get, Header, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Response } from 'express';
import { dirname, join } from 'node:path';
import { VNC_PAGE_CSP, VNC_PAGE_HTML, VNC_PAGE_SCRIPT } from './vnc-page';

/** noVNC's package root (its package.json exports only core/rfb.js). */
const NOVNC_ROOT = join(dirname(require.resolve('@novnc/novnc')), '..');
/** The browser needs noVNC's ES modules and the inflate code they import, nothing else of the package. */
const SERVED_NOVNC_FILE = /^(core|vendor)\/[\w./-]+\.js$/;

/** The gateway's screen in a browser. Access is decided in front of the router (installHttpSecurity). */
@ApiExcludeController()
@Controller('vnc')
export class VncController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', VNC_PAGE_CSP)
  @Header('Cache-Control', 'no-store')
  page(): string {
    return VNC_PAGE_HTML;
  }

  @Get('vnc-page.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  pageScript(): string {
    return VNC_PAGE_SCRIPT;
  }

  @Get('novnc/*path')
  novnc(@Param('path') path: string | string[], @Res() response: Response): void {
    const file = Array.isArray(path) ? path.join('/') : path;
    if (!SERVED_NOVNC_FILE.test(file) || file.split('/').includes('..')) {
      response.status(404).json({ statusCode: 404, code: 'NOT_FOUND', message: `No noVNC file ${file}` });
      return;
    }
    response.sendFile(file, { root: NOVNC_ROOT, dotfiles: 'deny', maxAge: '1h' }, (error?: Error) => {
      if (error && !response.headersSent) {
        response.status(404).json({ statusCode: 404, code: 'NOT_FOUND', message: `No noVNC file ${file}` });
      }
    });
  }
}
