/**
 * oci.ts — the data structures of an image, as the OCI image spec and Docker's schema 2 define them.
 *
 * An image is a tree of JSON documents and blobs, each named by the SHA-256 of its bytes:
 *   index (manifest list)  → one manifest per platform (linux/amd64, linux/arm64/v8, …)
 *   manifest               → one config blob + an ordered list of layer blobs (bottom first)
 *   config                 → how to run it (Entrypoint, Cmd, Env, User, WorkingDir…), the history,
 *                            and rootfs.diff_ids: the digest of each layer *uncompressed*
 *   layer                  → a tar archive (gzip, zstd or plain) of the files it adds, changes or
 *                            deletes (deletions are "whiteout" entries named `.wh.NAME`)
 * A *descriptor* points at a blob: { mediaType, digest, size }. Docker's schema 2 uses the same
 * shapes with different media type strings.
 *
 * Spec: https://github.com/opencontainers/image-spec (manifest.md, image-index.md, config.md).
 *
 * Try: `curl -s -H 'Accept: application/vnd.oci.image.index.v1+json,
 * application/vnd.oci.image.manifest.v1+json' http://$REGISTRY/v2/busybox/manifests/latest` →
 * `"mediaType"`
 */

export const MediaType = {
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerLayerZstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** The runtime part of an image config ("config" in OCI, "config"/"container_config" in Docker). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  /** HEALTHCHECK: `["CMD-SHELL", "cmd"]`, `["CMD", …]` or `["NONE"]`; durations in nanoseconds. */
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  /** ONBUILD instructions, run by a build that starts FROM this image. */
  OnBuild?: string[] | null;
  /** SHELL: what shell-form RUN/CMD/ENTRYPOINT run under (default ["/bin/sh", "-c"]). */
  Shell?: string[];
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: 'layers'; diff_ids: string[] };
  history?: HistoryEntry[];
}
