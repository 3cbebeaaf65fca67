// Where model and adapter files come from, without a file system: a FileSource reads one file of
// a folder by name. The Node loaders read local folders (directory-source.ts); in a browser the
// same loaders read a folder served over HTTP (urlFileSource) or files the user picked or dropped
// (memoryFileSource).

/** A folder of files readable by name. */
export interface FileSource {
  /** The folder, as named in error messages (a path or a URL). */
  readonly label: string;
  /** One file of the folder, as named in error messages. */
  describe(name: string): string;
  /** The bytes of file `name`, or null when the folder has no such file; other failures throw. */
  read(name: string): Promise<Uint8Array | null>;
}

/** File `name` of `source` as UTF-8 text, or null when absent. */
export async function readSourceText(source: FileSource, name: string): Promise<string | null> {
  const bytes = await source.read(name);
  return bytes === null ? null : new TextDecoder("utf-8").decode(bytes);
}

/** Minimal fetch signature, so callers (and tests) can pass their own. */
export type FetchLike = (url: string) => Promise<{ ok: boolean; status: number; statusText: string; arrayBuffer(): Promise<ArrayBuffer> }>;

/**
 * A folder served over HTTP: file `name` is fetched from `base` + name. 404 means absent; other
 * HTTP errors and network failures throw with the URL in the message.
 */
export function urlFileSource(base: string, fetchImpl: FetchLike = (url) => fetch(url)): FileSource {
  const folder = base.endsWith("/") ? base : `${base}/`;
  const describe = (name: string) => `${folder}${name}`;
  return {
    label: folder,
    describe,
    async read(name) {
      const url = describe(name);
      let response: Awaited<ReturnType<FetchLike>>;
      try {
        response = await fetchImpl(url);
      } catch (error) {
        throw new Error(`cannot fetch ${url}: ${(error as Error).message}`);
      }
      if (response.status === 404) return null;
      if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status} ${response.statusText}`.trimEnd());
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

/** Files held in memory (a browser's picked folder or dropped files), by file name. */
export function memoryFileSource(files: ReadonlyMap<string, Uint8Array | Blob>, label: string): FileSource {
  const describe = (name: string) => `${label}/${name}`;
  return {
    label,
    describe,
    async read(name) {
      const file = files.get(name);
      if (file === undefined) return null;
      return file instanceof Uint8Array ? file : new Uint8Array(await file.arrayBuffer());
    },
  };
}
