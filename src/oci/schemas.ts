import { z } from 'zod';
import { ShaleError } from '../internal/errors.js';
import { isDigest, type Digest } from './digest.js';

const digest = z.string().refine(isDigest, 'not a sha256 digest') as unknown as z.ZodType<Digest>;
const annotations = z.record(z.string()).optional();

export const PlatformSchema = z
  .object({
    architecture: z.string(),
    os: z.string(),
    'os.version': z.string().optional(),
    'os.features': z.array(z.string()).optional(),
    variant: z.string().optional(),
  })
  .passthrough();

export const DescriptorSchema = z
  .object({
    mediaType: z.string(),
    digest,
    size: z.number().int().nonnegative(),
    urls: z.array(z.string()).optional(),
    annotations,
    platform: PlatformSchema.optional(),
  })
  .passthrough();

/** An OCI image manifest or a Docker schema 2 manifest (same shape). */
export const ManifestSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    artifactType: z.string().optional(),
    config: DescriptorSchema,
    layers: z.array(DescriptorSchema),
    subject: DescriptorSchema.optional(),
    annotations,
  })
  .passthrough();

/** An OCI image index or a Docker manifest list. */
export const IndexSchema = z
  .object({
    schemaVersion: z.literal(2),
    mediaType: z.string().optional(),
    manifests: z.array(DescriptorSchema),
    annotations,
  })
  .passthrough();

export const HistorySchema = z
  .object({
    created: z.string().optional(),
    created_by: z.string().optional(),
    author: z.string().optional(),
    comment: z.string().optional(),
    empty_layer: z.boolean().optional(),
  })
  .passthrough();

export const ImageConfigSchema = z
  .object({
    created: z.string().optional(),
    author: z.string().optional(),
    architecture: z.string(),
    os: z.string(),
    variant: z.string().optional(),
    config: z.record(z.unknown()).nullable().optional(),
    rootfs: z.object({ type: z.literal('layers'), diff_ids: z.array(digest) }).passthrough(),
    history: z.array(HistorySchema).optional(),
  })
  .passthrough();

/** One entry of a docker-archive's manifest.json. */
export const DockerArchiveManifestSchema = z.array(
  z
    .object({
      Config: z.string(),
      RepoTags: z.array(z.string()).nullable().optional(),
      Layers: z.array(z.string()),
      LayerSources: z.record(DescriptorSchema).optional(),
    })
    .passthrough(),
);

export const OciLayoutSchema = z.object({ imageLayoutVersion: z.string() }).passthrough();

export type Platform = z.infer<typeof PlatformSchema>;
export type Descriptor = z.infer<typeof DescriptorSchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
export type Index = z.infer<typeof IndexSchema>;
export type History = z.infer<typeof HistorySchema>;
export type ImageConfig = z.infer<typeof ImageConfigSchema>;
export type DockerArchiveManifest = z.infer<typeof DockerArchiveManifestSchema>;

/** Parses untrusted JSON bytes against a schema; a bad document is a CORRUPT_INPUT error naming it. */
export function parseJson<T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>, raw: Uint8Array | string, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
  } catch (e) {
    throw new ShaleError('CORRUPT_INPUT', `${what} is not valid JSON: ${(e as Error).message}`);
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ShaleError('CORRUPT_INPUT', `${what} is not valid: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}
