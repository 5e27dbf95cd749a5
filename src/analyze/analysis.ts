import type { Digest } from '../oci/index.js';

/** How a hidden copy was hidden: by a whiteout, by a later entry, or by a copy-up that kept the content. */
export type WasteKind = 'deleted' | 'overwritten' | 'metadata';

/** One entry of a layer as the HTML tree shows it: A added, M modified (was below), D removed. */
export interface FileChange {
  path: string;
  type: string;
  size: number;
  change: 'A' | 'M' | 'D';
}

export interface LayerReport {
  index: number;
  digest: Digest;
  diffId: Digest;
  mediaType: string;
  /** Bytes of the stored (maybe compressed) blob. */
  compressedBytes: number;
  /** Content bytes: regular files plus symlink targets, as `images` and `history` count them. */
  sizeBytes: number;
  createdBy: string;
  /** `Dockerfile:LINE` when the builder recorded it. */
  line?: string;
  /** Part of the base image rather than of the user's own steps. */
  base: boolean;
  /** Non-directory entries new at their path, replacing one below, and removed below (by whiteouts). */
  added: number;
  modified: number;
  removed: number;
  /** This layer's bytes that later layers hide. */
  hiddenBytes: number;
  /** Only when asked for (the HTML report's file tree). */
  files?: FileChange[];
}

/** Bytes one layer carries that a later layer hides: grouped by the path where the hiding happened. */
export interface WasteItem {
  path: string;
  bytes: number;
  /** Hidden copies (non-directories) under `path` from this creating layer. */
  files: number;
  kind: WasteKind;
  layer: number;
  hiddenByLayer: number;
  createdBy: string;
  hiddenBy: string;
  createdLine?: string;
  hiddenLine?: string;
  base: boolean;
  fix: string;
}

/** dive's numbers, computed with dive's formulas (see src/analyze/README.md). */
export interface DiveMetrics {
  efficiency: number;
  wastedBytes: number;
  /** wastedBytes / user bytes (every layer but the first); null when there are no user bytes. */
  userWastedPercent: number | null;
  sizeBytes: number;
  userSizeBytes: number;
  /** The paths scored in two or more layers, most wasted first: the first 1000 of `inefficientFileCount`. */
  inefficientFiles: { path: string; count: number; wastedBytes: number }[];
  inefficientFileCount: number;
}

export interface WasteSummary {
  /** Every hidden copy counted once. */
  hiddenBytes: number;
  baseHiddenBytes: number;
  userHiddenBytes: number;
  items: WasteItem[];
}

export interface CiRuleResult {
  name: string;
  /** The limit as configured ("0.9", "20MB"), or "disabled". */
  limit: string;
  actual: number | null;
  pass: boolean;
  status: 'PASS' | 'FAIL' | 'SKIP';
  message: string;
}

export interface CiVerdict {
  pass: boolean;
  rules: CiRuleResult[];
}

export interface Analysis {
  image: string;
  id: Digest;
  /** Sum of the layers' content bytes. */
  sizeBytes: number;
  baseLayers: number;
  layers: LayerReport[];
  dive: DiveMetrics;
  waste: WasteSummary;
  ci?: CiVerdict;
}
