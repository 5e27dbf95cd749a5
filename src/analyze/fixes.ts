import type { WasteKind } from './analysis.js';
import { stepLabel } from './step-label.js';

export type StepKind = 'RUN' | 'COPY' | 'ADD' | 'WORKDIR' | 'OTHER';

/** What kind of instruction a history `created_by` records (classic builder, BuildKit, or shale). */
export function stepKind(createdBy: string): StepKind {
  const word = /^([A-Z]+)(?:\s|$)/.exec(stepLabel(createdBy))?.[1];
  if (word === 'COPY' || word === 'ADD' || word === 'WORKDIR') return word;
  return word === 'RUN' || createdBy === '' ? 'RUN' : 'OTHER';
}

const APT_LISTS = /^var\/lib\/apt\/lists(\/|$)/;
const PACKAGE_CACHES = /^(var\/cache\/(apt|apk|yum|dnf)|root\/\.cache\/pip|root\/\.npm|usr\/local\/share\/\.cache\/yarn)(\/|$)/;

/** A concrete change to the Dockerfile that stops these bytes from being carried. */
export function fixFor(kind: WasteKind, createdBy: string, hiddenBy: string, path: string, where: { madeInBase: boolean; hiddenInBase: boolean }): string {
  if (where.hiddenInBase) return 'comes with the base image: choose a smaller base (a slim variant), or build your own base without it';
  if (where.madeInBase) return 'the base image carries it, so a later step only hides it: choose a base without it, or `shale squash --all`';
  const made = stepKind(createdBy);
  const hid = stepKind(hiddenBy);
  if (kind === 'metadata') {
    return made === 'COPY' || made === 'ADD'
      ? `use ${made} --chmod/--chown instead of changing mode or owner in a later step`
      : 'set the mode and owner in the RUN that creates it, not in a later step';
  }
  if (APT_LISTS.test(path)) return 'clean /var/lib/apt/lists in the same RUN as apt-get update (`&& rm -rf /var/lib/apt/lists/*`)';
  if (PACKAGE_CACHES.test(path)) return 'clean the package cache in the same RUN that fills it (or use the tool\'s no-cache option)';
  if (made === 'RUN' && hid === 'RUN') {
    return kind === 'deleted'
      ? 'delete it in the RUN that creates it: chain them (`RUN ... && rm ...`)'
      : 'write its final version in the RUN that creates it: chain them';
  }
  if (made === 'COPY' || made === 'ADD') {
    return kind === 'deleted'
      ? `do not ${made} it: exclude it in .dockerignore or copy only what is needed (or use a build stage and COPY --from)`
      : `${made} its final version once instead of changing it in a later step`;
  }
  return kind === 'deleted' ? 'delete it in the step that creates it' : 'produce its final version in the step that creates it';
}
