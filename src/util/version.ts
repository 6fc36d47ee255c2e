// The package version, read at run time from the package root (dist/src/util → ../../../package.json)
// rather than compiled in: `npm pack` ships package.json beside dist/src, never a copy inside dist.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a JSON file outside rootDir's output
export const VERSION: string = (require('../../../package.json') as { version: string }).version;
