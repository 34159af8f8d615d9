/**
 * Effects are data: the reducer and the Engine return them, and the runtime executes them after
 * the batch is applied and published. Nothing in src/core performs one.
 */
export type Effect =
  /** Send a Yjs update to connected peers, except the one it came from (never echo). */
  | { readonly type: 'BroadcastUpdate'; readonly update: Uint8Array; readonly exceptPeer?: string }
  /** Tell the user something (host: notification; CLI: stderr). */
  | {
      readonly type: 'NotifyUser';
      readonly severity: 'info' | 'warn' | 'error';
      readonly message: string;
    }
  /** Ask the memory-aware workers to shed load (close clean, unpinned tabs, stop prefetching). */
  | { readonly type: 'RelieveMemoryPressure'; readonly pressure: 'elevated' | 'critical' };

export type EffectType = Effect['type'];
