/**
 * The trusted devices Device Sync is paused with (SyncWorker.pausePeer / resumePeer): not dialed,
 * their session closed, and their incoming connections refused after the handshake (so the
 * refusal names an authenticated device, never a guess from an address). Kept for this run only,
 * not persisted: a restart of Device Sync resumes every device. Trust is untouched: a paused
 * device stays paired.
 */

/**
 * Why a paused device's session ended, or its connection was refused: the same text on both sides
 * (the channel's CLOSE carries it to the peer), naming the device where the pause is.
 */
export function pausedReason(pausedOn: string): string {
  return `Device Sync paused on ${pausedOn}`;
}

export class PausedPeers {
  private readonly ids = new Set<string>();

  has(deviceId: string | undefined): boolean {
    return deviceId !== undefined && this.ids.has(deviceId);
  }

  /** Returns true when the device was not paused yet. */
  add(deviceId: string): boolean {
    if (this.ids.has(deviceId)) return false;
    this.ids.add(deviceId);
    return true;
  }

  /** Returns true when the device was paused. */
  delete(deviceId: string): boolean {
    return this.ids.delete(deviceId);
  }

  /** Paused device ids, sorted. */
  list(): string[] {
    return [...this.ids].sort();
  }
}
