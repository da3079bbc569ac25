import type { ClientSession } from '../protocol/client-session';
import { Reply, Request } from '../protocol/message-ids';
import type { TwsServer } from '../protocol/tws-server';

/** IB's bulletin types: 1 regular news, 2 exchange unavailable, 3 exchange available again. */
export type BulletinType = 1 | 2 | 3;

export interface Bulletin {
  id: number;
  type: BulletinType;
  message: string;
  originExchange: string;
}

/** News bulletins: kept for clients that ask for all messages, pushed to current subscribers. */
export class NewsBulletins {
  private readonly bulletins: Bulletin[] = [
    {
      id: 1,
      type: 1,
      message: 'Welcome to the IB Gateway simulator. All trading here is simulated.',
      originExchange: 'SIM',
    },
  ];
  private readonly subscribers = new Set<ClientSession>();

  constructor(private readonly server: TwsServer) {}

  register(): void {
    this.server.on(Request.REQ_NEWS_BULLETINS, (session, request) => {
      request.skip(1); // version
      const allMessages = request.bool();
      this.subscribers.add(session);
      session.onClose(() => this.subscribers.delete(session));
      // allMsgs: the day's bulletins first; without it, only those published from now on (as IB does).
      const backlog = allMessages ? this.bulletins : [];
      for (const bulletin of backlog) session.send(this.message(bulletin));
    });
    this.server.on(Request.CANCEL_NEWS_BULLETINS, (session) => {
      this.subscribers.delete(session);
    });
  }

  publish(type: BulletinType, message: string, originExchange = 'SIM'): Bulletin {
    const bulletin = { id: this.bulletins.length + 1, type, message, originExchange };
    this.bulletins.push(bulletin);
    for (const session of this.subscribers) session.send(this.message(bulletin));
    return bulletin;
  }

  private message(bulletin: Bulletin): (string | number)[] {
    return [Reply.NEWS_BULLETINS, 1, bulletin.id, bulletin.type, bulletin.message, bulletin.originExchange];
  }
}
