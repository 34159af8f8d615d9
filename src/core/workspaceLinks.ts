/**
 * Workspace linking (pure): what a device offers to its peers, how a git remote is normalized so
 * that the ssh and https spellings of one repository compare equal, and how a peer's offers are
 * ranked for a local folder (same git remote first, then same name, then the rest).
 */

/** One workspace a device shares (sync message WorkspaceOffers, docs/protocol.md). */
export interface WorkspaceOffer {
  readonly workspaceId: string;
  readonly name: string;
  /** Normalized (see {@link normalizeGitRemote}); absent when the folder has no remote. */
  readonly gitRemote?: string;
  readonly fileCount: number;
}

/** An offer as seen from a peer. */
export interface PeerWorkspaceOffer extends WorkspaceOffer {
  readonly deviceId: string;
}

export type OfferMatch = 'git-remote' | 'name' | 'other';

export interface RankedOffer extends PeerWorkspaceOffer {
  readonly match: OfferMatch;
  /** True when it is the workspace id the local folder is linked to now. */
  readonly linked: boolean;
}

export interface LocalFolder {
  readonly name: string;
  readonly gitRemote?: string;
  /** The workspace id the folder is linked to now. */
  readonly workspaceId?: string;
}

/**
 * The comparison key of a git remote URL: host and path, lower-cased host, no scheme, no user or
 * password, no port for ssh, no trailing `/` or `.git`. `git@github.com:o/r.git`,
 * `ssh://git@github.com/o/r`, `https://user:token@github.com/o/r.git` all give `github.com/o/r`.
 * Undefined for an empty or unparseable remote. Local paths are kept as they are (minus `.git`).
 */
export function normalizeGitRemote(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  let text = url.trim();
  if (text.length === 0) return undefined;
  let host: string;
  let rest: string;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(text);
  if (scheme !== null) {
    const kind = (scheme[1] ?? '').toLowerCase();
    const body = scheme[2] ?? '';
    if (kind === 'file') return stripGit(body.replace(/\/+$/, '')) || undefined;
    const slash = body.indexOf('/');
    let authority = slash < 0 ? body : body.slice(0, slash);
    rest = slash < 0 ? '' : body.slice(slash + 1);
    const at = authority.lastIndexOf('@');
    if (at >= 0) authority = authority.slice(at + 1);
    // Ports differ between ssh and https spellings of one server: drop them.
    host = authority.replace(/:\d*$/, '');
  } else {
    // scp-like: [user@]host:path (a ':' before any '/').
    const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/\/)(.*)$/.exec(text);
    if (scp === null) {
      text = stripGit(text.replace(/\/+$/, ''));
      return text.length > 0 ? text : undefined;
    }
    host = scp[1] ?? '';
    rest = scp[2] ?? '';
  }
  host = host.toLowerCase();
  rest = stripGit(rest.replace(/^\/+/, '').replace(/\/+$/, ''));
  if (host.length === 0) return undefined;
  return rest.length > 0 ? `${host}/${rest}` : host;
}

function stripGit(path: string): string {
  return path.replace(/\.git$/i, '').replace(/\/+$/, '');
}

function sameName(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

const MATCH_ORDER: Record<OfferMatch, number> = { 'git-remote': 0, name: 1, other: 2 };

/**
 * Ranks offers for `local`: same normalized git remote first, then same name (case-insensitive),
 * then the rest; inside a group, the one linked now first, then more files, then name, device id
 * and workspace id (a total order, so the result is deterministic).
 */
export function rankOffers(
  local: LocalFolder,
  offers: readonly PeerWorkspaceOffer[],
): RankedOffer[] {
  const localRemote = normalizeGitRemote(local.gitRemote);
  const ranked = offers.map((offer): RankedOffer => {
    const remote = normalizeGitRemote(offer.gitRemote);
    const match: OfferMatch =
      localRemote !== undefined && remote === localRemote
        ? 'git-remote'
        : sameName(local.name, offer.name)
          ? 'name'
          : 'other';
    return { ...offer, match, linked: offer.workspaceId === local.workspaceId };
  });
  return ranked.sort(
    (a, b) =>
      MATCH_ORDER[a.match] - MATCH_ORDER[b.match] ||
      Number(b.linked) - Number(a.linked) ||
      b.fileCount - a.fileCount ||
      compare(a.name, b.name) ||
      compare(a.deviceId, b.deviceId) ||
      compare(a.workspaceId, b.workspaceId),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
