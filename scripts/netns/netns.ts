/**
 * Manual helper for the netns test topology (test/netns/Netns.ts). Needs root.
 *
 *   npx tsx scripts/netns/netns.ts list    namespaces made by the harness, with their owner pid
 *   npx tsx scripts/netns/netns.ts clean   delete those whose owning process is gone
 *   npx tsx scripts/netns/netns.ts up a b  build a topology and keep it until Ctrl-C, then tear
 *                                          it down (for poking around with `ip netns exec`)
 */
import { Netns, isPidAlive, listNamespaces, netnsUnavailableReason } from '../../test/netns/Netns';

const OURS = /^tw(\d+)-\d+-[a-z0-9]+$/;

async function main(argv: readonly string[]): Promise<number> {
  const [command = 'list', ...rest] = argv;
  const reason = netnsUnavailableReason();
  if (reason !== undefined) {
    console.error(`netns: ${reason}`);
    return 2;
  }
  switch (command) {
    case 'list': {
      for (const ns of listNamespaces()) {
        const m = OURS.exec(ns);
        if (!m) continue;
        const owner = Number(m[1]);
        console.log(`${ns}\towner ${owner} ${isPidAlive(owner) ? 'alive' : 'gone (stale)'}`);
      }
      return 0;
    }
    case 'clean': {
      const removed = Netns.removeStale();
      console.log(removed.length > 0 ? `removed ${removed.join(' ')}` : 'nothing stale');
      return 0;
    }
    case 'up': {
      const netns = new Netns();
      await netns.up(rest.length > 0 ? rest : ['a', 'b']);
      for (const h of netns.hostNames) {
        console.log(`${h}: ip netns exec ${netns.namespaceOf(h)} ...  (${netns.address(h)})`);
      }
      console.log('Ctrl-C tears it down');
      // signal listeners alone do not keep Node alive
      const keepAlive = setInterval(() => undefined, 60_000);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => {
          resolve();
        });
        process.once('SIGTERM', () => {
          resolve();
        });
      });
      clearInterval(keepAlive);
      await netns.down();
      return 0;
    }
    default:
      console.error('usage: netns.ts list | clean | up [hosts...]');
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
