/** Set by the bundler (scripts/build.mjs): the package version and the commit the bundle was built from. */
declare const SHALE_VERSION: string | undefined;
declare const SHALE_COMMIT: string | undefined;

/** What `shale --version` prints, as `docker --version` words it. Unbundled (tests importing the modules): "dev". */
export function versionText(): string {
  const version = typeof SHALE_VERSION === 'string' ? SHALE_VERSION : 'dev';
  const commit = typeof SHALE_COMMIT === 'string' ? SHALE_COMMIT : 'unknown';
  return `shale version ${version}, build ${commit}`;
}
