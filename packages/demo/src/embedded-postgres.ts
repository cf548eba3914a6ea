import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** An in-process PostgreSQL (PGlite) that node-postgres reaches over a loopback socket. */
export interface EmbeddedPostgres extends AsyncDisposable {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  readonly url: string;
  readonly db: PGlite;
  stop(): Promise<void>;
}

/**
 * Start PGlite (in memory, or in `dataDir`) and expose it on 127.0.0.1 at a free
 * port. Queries from all connections are serialised by the socket server;
 * `COPY … TO STDOUT` works over it, `COPY … FROM STDIN` does not.
 */
export async function startEmbeddedPostgres(opts: { dataDir?: string; maxConnections?: number } = {}): Promise<EmbeddedPostgres> {
  const db = opts.dataDir ? await PGlite.create(opts.dataDir) : await PGlite.create();
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: opts.maxConnections ?? 16 });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
    await db.close();
  };
  return { url, db, stop, [Symbol.asyncDispose]: stop };
}
