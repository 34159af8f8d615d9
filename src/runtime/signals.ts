/**
 * The typed signal map. Signal names are `ring:subject:event`, all lower case
 * (`sync:peer:connected`). A signal is a notification whose sender must not know its observers;
 * anything that changes state is an intent instead (see ARCHITECTURE.md).
 */
import type { RegisterState } from '../core/state';
import type { DiagnosticEvent } from './Diagnostics';

export interface SignalMap {
  'register:state:published': { readonly state: RegisterState };
  'register:diagnostic:emitted': { readonly event: DiagnosticEvent };
  'control_panel:worker:failed': { readonly worker: string; readonly error: string };
  'sync:peer:connected': { readonly peerId: string; readonly transport: string };
  'sync:peer:disconnected': { readonly peerId: string; readonly reason: string };
  'sync:peer:discovered': {
    readonly deviceId: string;
    readonly name: string;
    readonly host: string;
    readonly port: number;
    readonly protocolVersion: number;
  };
}

export type SignalName = keyof SignalMap;

/** What every subscriber receives: the payload plus who sent it and when. */
export interface SignalEnvelope<K extends SignalName> {
  readonly name: K;
  readonly source: string;
  readonly at: number;
  readonly payload: SignalMap[K];
}
