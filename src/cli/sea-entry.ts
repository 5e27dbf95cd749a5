/**
 * The entry of the single executable (`npm run package`): what bin/shale.mjs does, from inside the
 * executable. Without root, a command that uses a store runs again in the caller's user namespace; else
 * the CLI runs here. Everything it loads is in the executable (its workers are its assets).
 */
import { needsUserNamespace, runInUserNamespace } from '../runtime/enter-user-namespace.js';
import { main } from './main.js';

const args = process.argv.slice(2);
void (needsUserNamespace(args) ? runInUserNamespace(args) : main(args));
