// One `autosp add|remove|sync` without a daemon: open the direct session, apply the command, bring
// the other peers whose lifetime ran out up to date, close (which writes the state). What to print
// and which exit status to give stays with the CLI.
import type { Logger } from '../util/log';
import type { Direct } from './direct';
import { OK_RESULTS, type PeerReport } from './keeper';

export type Op = { cmd: 'add' | 'remove' | 'sync'; names: string[] };

export async function applyOnce(
  op: Op,
  open: () => Promise<Direct>,
  progress: ((done: number, total: number) => void) | undefined,
  log: Logger,
): Promise<PeerReport[]> {
  const d = await open();
  let peers: PeerReport[];
  try {
    if (op.cmd === 'add') peers = await d.keeper.add(op.names, { progress });
    else if (op.cmd === 'remove') peers = await d.keeper.remove(op.names);
    else peers = await d.keeper.setNames(op.names, { progress });
    // Others whose lifetime ran out since the last run are brought up to date too (logged only).
    const others = await d.keeper.refreshDue();
    for (const r of others) if (!OK_RESULTS.includes(r.result)) log.warn({ peer: r.name, result: r.result }, r.reason);
  } finally {
    await d.close();
  }
  return peers;
}
