// The repo build of the native CSV preparer: runs @tally/extractors' own build (packages/extractors/native/build.mjs,
// which npm also runs when the package is installed), so the compile is written once. A compile error fails here.
// Usage: node tools/build-native.mjs [--clean]   (--clean: remove the built addon only)
import { buildNative } from '../packages/extractors/native/build.mjs';

process.exitCode = buildNative(process.argv.slice(2).filter((arg) => arg !== '--install'));
