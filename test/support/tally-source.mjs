// `node --import tsx --import ./test/support/tally-source.mjs packages/cli/src/bin.ts …`
import { register } from 'node:module';

register('./source-hooks.mjs', import.meta.url);
