/**
 * Routes the file messages of protocol version 3 (FileStep1, FileUpdate, BlobRequest, BlobChunk,
 * BlobMissing) between the SyncWorker's sessions and one FileMessageHandler (the folder side).
 *
 *  - A peer is "up for files" while its current session is open, linked to our workspace, of
 *    negotiated protocol version ≥ 3, and past its initial sync (Idle), or as soon as a file
 *    message arrives on such a session (the peer may reach Idle first and start at once).
 *  - Incoming: a FileUpdate from a device whose grant is not read-write is dropped with a Warn
 *    ('sync.worker.unit_rejected'); a FileUpdate that is not a valid Yjs update closes the session
 *    like an invalid SyncStep2. Everything else goes to the handler. A throwing handler is caught
 *    and reported ('sync.worker.file_handler_failed'); the session stays up.
 *  - Outgoing: only to peers that are up; no relaying (the handler re-sends what it applies).
 */
import { describeError } from '../../core/errors';
import type { Diagnostics } from '../../runtime/Diagnostics';
import type { WorkspaceGrant } from '../trust/TrustStore';
import type { PeerSession } from './PeerSession';
import type { FileMessage } from './syncMessages';
import { validateYjsUpdate } from './validateYjsUpdate';

export interface FileMessageHandler {
  /** A file message from a trusted peer linked to the same workspace. */
  onFileMessage(peerId: string, message: FileMessage): void;
  /** A session with `peerId` that speaks files is open and past its initial sync. */
  onFilePeerUp(peerId: string): void;
  /** That session closed. */
  onFilePeerDown(peerId: string): void;
}

/** What the router needs from the SyncWorker. */
export interface FileRouterHost {
  /** The grant of `deviceId` on the workspace synced now. */
  grantOf(deviceId: string): WorkspaceGrant;
  /** True when `session` is the worker's live session for its peer. */
  isCurrent(session: PeerSession): boolean;
  /** The worker's diagnostics while it runs. */
  diagnostics(): Diagnostics | undefined;
}

export class FileMessageRouter {
  private handler: FileMessageHandler | undefined;
  private readonly up = new Map<string, PeerSession>();

  constructor(private readonly host: FileRouterHost) {}

  /** Sets (or clears) the handler; peers already up are reported to the new one at once. */
  setHandler(handler: FileMessageHandler | undefined): void {
    this.handler = handler;
    for (const peerId of this.peers()) {
      this.call('onFilePeerUp', peerId, (h) => {
        h.onFilePeerUp(peerId);
      });
    }
  }

  /** Peers currently up for files, sorted. */
  peers(): string[] {
    return [...this.up.keys()].sort();
  }

  /** A session changed state: Idle on a linked version ≥ 3 session brings its peer up. */
  sessionStateChanged(session: PeerSession): void {
    if (session.state === 'Idle') this.bringUp(session);
  }

  /** A session closed: its peer goes down if this was the session it was up on. */
  sessionClosed(session: PeerSession): void {
    const peerId = session.remoteDeviceId;
    if (this.up.get(peerId) !== session) return;
    this.up.delete(peerId);
    this.call('onFilePeerDown', peerId, (h) => {
      h.onFilePeerDown(peerId);
    });
  }

  /** A decoded file message from a linked version ≥ 3 session (PeerSession checked both). */
  received(session: PeerSession, message: FileMessage): void {
    if (!session.carriesFiles || !this.host.isCurrent(session)) return;
    const peerId = session.remoteDeviceId;
    if (message.type === 'FileUpdate') {
      if (this.host.grantOf(peerId) !== 'read-write') {
        session.unitsRejected += 1;
        this.reject(session, 'read-only device: its file changes are not accepted', {
          kind: 'FileUpdate',
          fileId: message.fileId,
          reason: 'read_only',
        });
        return;
      }
      if (validateYjsUpdate(message.update) === undefined) {
        session.unitsRejected += 1;
        this.reject(session, 'FileUpdate is not a valid Yjs update', {
          kind: 'FileUpdate',
          fileId: message.fileId,
          reason: 'invalid_update',
        });
        session.close('invalid update');
        return;
      }
    }
    this.bringUp(session);
    this.call(message.type, peerId, (h) => {
      h.onFileMessage(peerId, message);
    });
  }

  /** Queues `message` for `peerId`; false when that peer is not up (or its session just closed). */
  send(peerId: string, message: FileMessage): boolean {
    const session = this.up.get(peerId);
    if (session === undefined) return false;
    return session.sendFileMessage(message);
  }

  /** Resolves when the peer's outgoing queue is below half its caps, or it is not up (any more). */
  whenWritable(peerId: string): Promise<void> {
    return this.up.get(peerId)?.whenWritable() ?? Promise.resolve();
  }

  private bringUp(session: PeerSession): void {
    if (!session.carriesFiles || !this.host.isCurrent(session)) return;
    const peerId = session.remoteDeviceId;
    const previous = this.up.get(peerId);
    if (previous === session) return;
    if (previous !== undefined) this.sessionClosed(previous);
    this.up.set(peerId, session);
    this.call('onFilePeerUp', peerId, (h) => {
      h.onFilePeerUp(peerId);
    });
  }

  private call(what: string, peerId: string, body: (handler: FileMessageHandler) => void): void {
    const handler = this.handler;
    if (handler === undefined) return;
    try {
      body(handler);
    } catch (error) {
      this.host
        .diagnostics()
        ?.emit(
          'sync.worker.file_handler_failed',
          `the file handler failed on ${what} from ${peerId}: ${describeError(error)}`,
          { deviceId: peerId, kind: what },
        );
    }
  }

  private reject(session: PeerSession, why: string, data: Record<string, unknown>): void {
    session.lastError = why;
    this.host
      .diagnostics()
      ?.emit('sync.worker.unit_rejected', `from ${session.remoteDeviceId}: ${why}`, {
        deviceId: session.remoteDeviceId,
        ...data,
      });
  }
}
