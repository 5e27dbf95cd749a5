import { Command, CommanderError, Option } from 'commander';
import { dieOfBrokenPipe } from './broken-pipe.js';
import { versionText } from './version.js';
import { isShaleError, ShaleError } from '../internal/errors.js';
import { explainUnmappedOwner } from '../internal/user-namespace.js';
import type { Store } from '../store/store.js';
import type { BuildFlags } from './build-command.js';
import type { AnalyzeFlags } from './analyze-command.js';
import type { SlimFlags } from './slim-command.js';
import type { SquashFlags } from './squash-command.js';
import type { MinifyFlags } from './minify-command.js';
import type { LintFlags } from './lint-command.js';
import { FAILURE_THRESHOLDS, LINT_FORMATS } from '../optimize/lint-choices.js';
import type { SnapshotterPreference } from '../snapshot/index.js';
import type { PushFlags, RegistryFlags } from './registry-commands.js';
import type { CopyFlags } from './copy-command.js';
import { printResult, RUN_FAILED, type CommandResult, type OutputFormat } from './output.js';
import type { AppendFlags, MutateFlags, RebaseFlags } from './edit-commands.js';

/**
 * Each command's module, loaded when the command runs: a command loads only what it uses, so start-up
 * (and `--help`, `--version`) does not pay for the builder, the registry client or the analysis.
 */
const load = {
  store: () => import('../store/store.js'),
  commands: () => import('./commands.js'),
  build: () => import('./build-command.js'),
  containers: () => import('./container-commands.js'),
  analyze: () => import('./analyze-command.js'),
  slim: () => import('./slim-command.js'),
  squash: () => import('./squash-command.js'),
  minify: () => import('./minify-command.js'),
  lint: () => import('./lint-command.js'),
  registry: () => import('./registry-commands.js'),
  copy: () => import('./copy-command.js'),
  edit: () => import('./edit-commands.js'),
  remote: () => import('./remote-commands.js'),
};

/** Commands that only read the store: they work on a store this process may not write (another user's). */
const READ_ONLY_COMMANDS = new Set(['images', 'df', 'history', 'inspect', 'analyze', 'save', 'export', 'push', 'logs', 'ps', 'diff']);

const formatOption = () => new Option('--format <format>', 'output format').choices(['table', 'json']).default('table');

/** The shale command line. Each action returns data; printing and exit codes are decided here. */
export function buildProgram(): Command {
  const program = new Command('shale')
    .description('A daemonless, OCI-native container image engine and image slimmer')
    .version(versionText(), '-v, --version', 'print the version and the commit shale was built from')
    .option('--root <dir>', 'store location (default: $SHALE_ROOT, $XDG_DATA_HOME/shale, ~/.local/share/shale)')
    .enablePositionalOptions()
    .allowExcessArguments(false) // inherited by every command: an extra argument is an error, never ignored
    .showHelpAfterError(false)
    .exitOverride();

  /** `--root` after the command wins over one before it, then $SHALE_ROOT and the defaults. */
  const storeRoot = async (command: Command): Promise<string> =>
    (command.opts() as { root?: string }).root ?? (program.opts() as { root?: string }).root ?? (await load.store()).defaultStoreRoot();
  const openStore = async (command: Command): Promise<Store> => {
    const store = await (await load.store()).Store.open(await storeRoot(command));
    if (!READ_ONLY_COMMANDS.has(command.name())) store.assertWritable();
    return store;
  };
  const run = (fn: (store: Store, ...args: never[]) => Promise<CommandResult>) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const opts = command.opts() as { format?: OutputFormat };
      const store = await openStore(command);
      const result = await fn(store, ...(args.slice(0, -1) as never[]));
      printResult(result, opts.format ?? 'table');
      if (result.exitCode) process.exitCode = result.exitCode;
    };

  program
    .command('import')
    .description('make a one-layer image from a root filesystem tar (- for stdin)')
    .argument('<tarball>')
    .argument('[ref]')
    .addOption(formatOption())
    .action(run(async (store, tarball: string, ref: string | undefined) => (await load.commands()).importCommand(store, tarball, ref)));

  program
    .command('load')
    .description('load images from a docker-archive, OCI archive or OCI layout (plain or gzip)')
    .option('-i, --input <path>', 'archive file or OCI layout directory (default: stdin)', '-')
    .addOption(formatOption())
    .action(run(async (store, opts: { input: string }) => (await load.commands()).loadCommand(store, opts.input)));

  program
    .command('save')
    .description('write images to an archive that docker load and skopeo read')
    .argument('<refs...>')
    .requiredOption('-o, --output <path>', 'archive file (- for stdout)')
    .addOption(new Option('--format <format>', 'archive format').choices(['docker-archive', 'oci-archive']).default('docker-archive'))
    .option('--compression <codec>', 'codec of uncompressed layers: none (default), gzip or zstd; compressed layers go as stored')
    .option('--compression-level <n>', "the codec's level (gzip 1-9, default 1 with libdeflate installed, else 4; zstd 1-19, default 3)")
    .action(async (refs: string[], opts: { output: string; format: 'docker-archive' | 'oci-archive'; compression?: string; compressionLevel?: string }, command: Command) => {
      await (await load.commands()).saveCommand(await openStore(command), refs, opts.format, opts.output, opts);
    });

  program
    .command('export')
    .description('write the merged root filesystem of a container or an image as one tar')
    .argument('<source>')
    .requiredOption('-o, --output <path>', 'tar file (- for stdout)')
    .action(run(async (store, source: string, opts: { output: string }) => (await load.commands()).exportCommand(store, source, opts.output)));

  const collect = (v: string, prev: string[]) => [...prev, v];
  program
    .command('build')
    .description('build an image from a Dockerfile')
    .argument('<context>', 'a directory, or - for a context tar (or a Dockerfile) on stdin')
    .option('-t, --tag <ref>', 'name the image (repeatable)', collect, [])
    .option('-f, --file <path>', 'Dockerfile (default: CONTEXT/Dockerfile; - for stdin)')
    .option('--build-arg <k=v>', 'set a build argument K=V; K alone takes its value from the environment (repeatable)', collect, [])
    .option('--target <stage>', 'build up to this stage')
    .option('--no-cache', 'do not reuse cached steps')
    .option('--secret <spec>', 'a secret for RUN --mount=type=secret: id=X,src=FILE or id=X,env=VAR (repeatable)', collect, [])
    .option('--ssh <spec>', 'an SSH agent for RUN --mount=type=ssh: default ($SSH_AUTH_SOCK) or id=/path/to/agent.sock (repeatable)', collect, [])
    .option('--platform <os/arch[/variant]>', 'build for this platform (foreign ones run RUN under binfmt_misc emulation)')
    .option('--pull', 'pull FROM images again even when stored')
    .addOption(new Option('--network <mode>', 'network of RUN steps').choices(['host', 'none']).default('host'))
    .addOption(new Option('--progress <mode>', 'progress output').choices(['auto', 'plain', 'json']).default('auto'))
    .addOption(new Option('--snapshotter <kind>', 'how RUN steps get their root filesystem').choices(['auto', 'overlayfs', 'copy']).default('auto'))
    .option('-q, --quiet', 'print only the image ID')
    .option('--classic', "the classic builder's output (Docker 20.10: #(nop) history, its config) instead of BuildKit's")
    .option('--label <k=v>', 'set a label in the image config (repeatable)', collect, [])
    .option('-o, --output <spec>', 'type=local,dest=DIR | type=tar,dest=FILE | type=oci,dest=FILE | type=docker,dest=FILE | type=image,name=REF[,push=true]; DIR alone is local, - a tar on stdout', collect, [])
    .option('--iidfile <file>', 'write the image ID to FILE')
    .option('--metadata-file <file>', 'write the build result metadata (digests, names) as JSON to FILE')
    .option('--cache-to <spec>', 'export the build cache: type=registry,ref=REF | type=local,dest=DIR, with mode=min|max (repeatable)', collect, [])
    .option('--cache-from <spec>', 'import a build cache: type=registry,ref=REF (or REF) | type=local,src=DIR (repeatable)', collect, [])
    .addOption(formatOption())
    .action(run(async (store, context: string, flags: BuildFlags & { cache?: boolean }) => (await load.build()).buildCommand(store, context, { ...flags, noCache: flags.cache === false })));

  program
    .command('run')
    .description('run a command in a new container: the image read-only, one writable layer on top')
    .argument('<image>')
    .argument('[command...]')
    .option('--rm', 'remove the container when it exits')
    .option('-d, --detach', 'run in the background and print the container ID')
    .option('--name <name>', 'name the container')
    .option('-e, --env <k=v>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory inside the container')
    .option('-u, --user <user>', 'user[:group] to run as')
    .addOption(new Option('--network <mode>', 'network').choices(['host', 'none']).default('host'))
    .option('-v, --volume <src:dst[:ro]>', 'bind-mount a host path (repeatable)', collect, [])
    .option('-i, --interactive', 'keep stdin open (always on in the foreground)')
    .option('-t, --tty', 'allocate a terminal')
    .addOption(new Option('--snapshotter <kind>', "how the container gets its root filesystem (as build's)").choices(['auto', 'overlayfs', 'copy']).default('auto'))
    .passThroughOptions()
    // as Docker: run's own failures (bad flags too) exit 125, apart from the command's statuses
    .exitOverride((e) => {
      throw e.code.startsWith('commander.help') ? e : new CommanderError(RUN_FAILED, e.code, e.message);
    })
    .action(async (...args: unknown[]) => {
      const action = run(async (store, image: string, command: string[], o: { rm?: boolean; detach?: boolean; name?: string; env: string[]; workdir?: string; user?: string; network: 'host' | 'none'; volume: string[]; tty?: boolean; snapshotter: SnapshotterPreference }) => (await load.containers()).runCommand(store, { image, command, name: o.name, env: o.env, workdir: o.workdir, user: o.user, network: o.network, volumes: o.volume, detach: o.detach, autoRemove: o.rm, tty: o.tty, snapshotter: o.snapshotter }),
      );
      await action(...args).catch(async (e: unknown) => {
        throw (await load.containers()).asRunFailure(e);
      });
    });

  program.command('ps').description('list containers').option('-a, --all', 'also stopped ones').addOption(formatOption()).action(run(async (store, o: { all?: boolean }) => (await load.containers()).psCommand(store, o.all === true)));
  program.command('diff').description('what a container changed: A added, C changed, D deleted').argument('<container>').addOption(formatOption()).action(run(async (store, c: string) => (await load.containers()).diffCommand(store, c)));
  program
    .command('commit')
    .description("make a new image from a container's writable layer")
    .argument('<container>')
    .argument('[ref]')
    .option('-m, --message <msg>', 'commit message')
    .option('-a, --author <author>', 'author')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction to the config (repeatable)', collect, [])
    .addOption(formatOption())
    .action(run(async (store, c: string, ref: string | undefined, o: { message?: string; author?: string; change: string[] }) => (await load.containers()).commitCommand(store, c, ref, o)));
  program
    .command('stop')
    .description('stop running containers (SIGTERM, then SIGKILL)')
    .argument('<containers...>')
    .option('-t, --time <seconds>', 'seconds to wait before killing', '10')
    .action(run(async (store, refs: string[], o: { time: string }) => (await load.containers()).stopCommand(store, refs, Number(o.time))));
  program
    .command('rm')
    .description('remove containers and their writable layers')
    .argument('<containers...>')
    .option('-f, --force', 'kill running containers first')
    .action(run(async (store, refs: string[], o: { force?: boolean }) => (await load.containers()).rmCommand(store, refs, o.force === true)));
  program.command('logs').description('output of a detached container').argument('<container>').action(run(async (store, c: string) => (await load.containers()).logsCommand(store, c)));

  program
    .command('images')
    .description('list images with shared and unique sizes')
    .argument('[reference]', "only images whose REPOSITORY[:TAG] matches (a pattern, as Docker's)")
    .option('--digests', 'show digests')
    .addOption(formatOption())
    .action(run(async (store, reference: string | undefined, o: { digests?: boolean }) => (await load.commands()).imagesCommand(store, reference, { digests: o.digests === true })));

  program
    .command('df')
    .description('disk use: the sum of image sizes next to the bytes the distinct layers take')
    .option('-v, --verbose', 'also list images')
    .addOption(formatOption())
    .action(run(async (store, opts: { verbose?: boolean }) => (await load.commands()).dfCommand(store, opts.verbose === true)));

  program.command('history').description('show the history of an image').argument('<source>').addOption(formatOption()).action(run(async (store, s: string) => (await load.commands()).historyCommand(store, s)));

  program
    .command('inspect')
    .description('show the manifest and config of an image')
    .argument('<source>')
    .addOption(formatOption())
    .action(run(async (store, s: string) => (await load.commands()).inspectCommand(store, s)));

  program.command('tag').description('name an image').argument('<source>').argument('<target>').action(run(async (store, a: string, b: string) => (await load.commands()).tagCommand(store, a, b)));

  program
    .command('rmi')
    .description('remove image tags; untagged images are deleted')
    .argument('<refs...>')
    .option('-f, --force', 'remove an image by ID that several tags name, or one a stopped container uses')
    .addOption(formatOption())
    .action(run(async (store, refs: string[], opts: { force?: boolean }) => (await load.commands()).rmiCommand(store, refs, opts.force === true)));

  program
    .command('prune')
    .description('remove dangling images and unreferenced blobs')
    .option('--build-cache', 'also remove the cache mounts of RUN --mount=type=cache and the cached build steps')
    .addOption(formatOption())
    .action(run(async (store, opts: { buildCache?: boolean }) => (await load.commands()).pruneCommand(store, { buildCache: opts.buildCache === true })));

  program
    .command('analyze')
    .description('where the bytes of an image go: hidden copies with the steps that made and hid them, dive metrics, CI rules')
    .argument('<source>')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'html']).default('table'))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--ci', "check dive's CI rules (exit 1 when one fails); reads .dive-ci when present; on when CI=true, as in dive")
    .option('--no-ci', 'do not check the CI rules, whatever CI says')
    .option('--ci-config <file>', 'CI rules file (YAML, dive\'s .dive-ci format)')
    .option('--lowest-efficiency <ratio>', 'CI rule: fail below this efficiency (0..1, or "disabled")')
    .option('--highest-wasted-bytes <bytes>', 'CI rule: fail above these wasted bytes (e.g. 20MB, or "disabled")')
    .option('--highest-user-wasted-percent <ratio>', 'CI rule: fail above this ratio of wasted to user bytes (or "disabled")')
    .option('--platform <os/arch>', 'the image of a multi-platform index to analyze')
    .option('--base-layers <n>', 'how many bottom layers are the base image (default: found from the images in the store)')
    .option('--compare <source>', 'instead: a file-level diff from this image to SOURCE')
    .action(run(async (store, s: string, flags: AnalyzeFlags) => (await load.analyze()).analyzeCommand(store, s, flags)));

  program
    .command('slim')
    .description('rewrite a Dockerfile for size (a diff, or -o FILE); --verify builds both and compares the images')
    .argument('[context]', 'build context', '.')
    .option('-f, --file <file>', 'the Dockerfile (default: CONTEXT/Dockerfile)')
    .option('-o, --output <file>', 'write the rewritten Dockerfile here')
    .option('--verify', 'build the original and the rewrite, compare the final filesystems and config (exit 1 when not equivalent)')
    .option('-t, --tag <ref>', 'tag the rewritten image (with --verify)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--build-arg <arg>', 'build-time variable for --verify (K=V)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--risky', 'also apply changes that can change behaviour (--no-install-recommends)')
    .option('--cache-mounts', 'apply the proposed RUN --mount=type=cache mounts for package-manager caches (instead of cleaning them)')
    .addOption(formatOption())
    .action(run(async (store, context: string, flags: SlimFlags) => (await load.slim()).slimCommand(store, context, flags)));

  program
    .command('squash')
    .description('merge the layers above the base image into one, dropping hidden bytes')
    .argument('<ref>')
    .requiredOption('-t, --tag <ref>', 'name of the squashed image')
    .option('--from-layer <n>', 'keep layers 0..N-1 and squash the rest (default: keep the layers of the base image in the store)')
    .option('--all', 'squash every layer into one')
    .addOption(formatOption())
    .action(run(async (store, ref: string, flags: SquashFlags) => (await load.squash()).squashCommand(store, ref, flags)));

  program
    .command('minify')
    .description('keep only the files the image uses when probes run it (traced), then verify the probes give the same results on the result')
    .argument('<image>')
    .requiredOption('-t, --tag <ref>', 'name of the minified image (written only when verification passes)')
    .option('--probe-cmd <args>', "run ARGS (shell words) in place of the image's CMD, its ENTRYPOINT kept, as `docker run IMAGE ARGS` (repeatable; default probe: the image's own command)", collect, [])
    .option('--probe-http <port/path>', 'start the image\'s command and request http://127.0.0.1:PORT/PATH until it answers 2xx or 3xx (repeatable)', collect, [])
    .option('--probe-http-status <n>', 'the HTTP status the --probe-http probes expect instead of 2xx/3xx')
    .option('--probe-script <file>', 'run this script inside the container, in place of the ENTRYPOINT and CMD (repeatable; it needs a #! line)', collect, [])
    .option('--probe-timeout <seconds>', 'each probe run is killed after this long', '60')
    .option('--include <path>', 'keep this container path (a directory with everything below) whatever the probes did (repeatable)', collect, [])
    .option('--exclude <path>', 'leave this container path (and everything below) out whatever the probes did (repeatable)', collect, [])
    .option('--from-scratch', 'one layer holding only the kept files (the default)')
    .option('--keep-base', 'keep the base image\'s layers as they are; the layers above become one layer of only the kept files')
    .option('--report <file>', 'write every kept path with why it is kept (probe, loader rule, --include) and sizes, as JSON')
    .addOption(formatOption())
    .action(run(async (store, image: string, flags: MinifyFlags) => (await load.minify()).minifyCommand(store, image, flags)));

  program
    .command('lint')
    .description('size rules for a Dockerfile (exit 1 when a finding reaches the failure threshold); reads .hadolint.yaml and # hadolint ignore= pragmas')
    .argument('[dockerfile]', 'a Dockerfile, a build context whose Dockerfile is linted, or - for stdin (default: ./Dockerfile)')
    .option('-f, --file <path>', 'Dockerfile (- for stdin)')
    .addOption(new Option('--format <format>', 'output format').choices([...LINT_FORMATS]).default('text'))
    .addOption(new Option('--failure-threshold <severity>', 'lowest severity that fails (default: the config\'s, else info); none never fails').choices([...FAILURE_THRESHOLDS]))
    .option('--ignore <rule>', 'drop the findings of a rule (SLxxxx or DLxxxx); repeatable', (v: string, all: string[] = []) => [...all, v])
    .option('--no-fail', 'exit 0 whatever the findings')
    .option('-c, --config <file>', 'hadolint config file (default: .hadolint.yaml in the working directory)')
    .action(async (target: string | undefined, flags: LintFlags & { fail?: boolean }) => {
      const result = await (await load.lint()).lintCommand(target, { ...flags, noFail: flags.fail === false });
      printResult(result, flags.format === 'json' ? 'json' : 'table');
      if (result.exitCode) process.exitCode = result.exitCode;
    });

  program
    .command('pull')
    .description('pull an image from a registry into the store (blobs already stored are not downloaded)')
    .argument('<ref>', 'HOST/REPO[:TAG|@DIGEST]')
    .option('--platform <os/arch[/variant]>', 'the image of a multi-platform index (default: this machine)')
    .option('--insecure', 'allow plain HTTP and any TLS certificate')
    .option('--ca-cert <file>', 'trust this CA (PEM) for the registry (default: $SHALE_REGISTRY_CA)')
    .addOption(formatOption())
    .action(run(async (store, ref: string, flags: RegistryFlags & { platform?: string }) => (await load.registry()).pullCommand(store, ref, flags)));

  program
    .command('push')
    .description('push an image of the store to a registry (only missing blobs are uploaded, the manifest last)')
    .argument('<ref>', 'HOST/REPO[:TAG]')
    .option('--insecure', 'allow plain HTTP and any TLS certificate')
    .option('--ca-cert <file>', 'trust this CA (PEM) for the registry (default: $SHALE_REGISTRY_CA)')
    .option('--compression <codec>', 'codec of uncompressed layers: gzip (default), zstd or none; compressed layers go as stored')
    .option('--compression-level <n>', 'the codec\'s level (gzip 1-9, default 1 with libdeflate installed, else 4; zstd 1-19, default 3)')
    .addOption(formatOption())
    .action(run(async (store, ref: string, flags: PushFlags) => (await load.registry()).pushCommand(store, ref, flags)));

  program
    .command('copy')
    .description('copy an image (or an index with --all-platforms) between the store, registries, OCI layouts and archives, blobs streamed')
    .argument('<source>', 'REF | docker://HOST/REPO[:TAG|@DIGEST] | oci:DIR[:REF] | oci-archive:PATH[:REF] | docker-archive:PATH[:REF] | docker-daemon:REF')
    .argument('<destination>', 'REF (a tag in the store) | docker://HOST/REPO[:TAG] | oci:DIR[:REF] | oci-archive:PATH[:REF] | docker-archive:PATH[:REF]')
    .option('--all-platforms', 'for an index: copy every image and the index itself')
    .option('--platform <os/arch[/variant]>', 'for an index: the image to copy (default: this machine)')
    .option('--insecure', 'allow plain HTTP and any TLS certificate')
    .option('--ca-cert <file>', 'trust this CA (PEM) for the registry (default: $SHALE_REGISTRY_CA)')
    .addOption(formatOption())
    .action(run(async (store, src: string, dst: string, flags: CopyFlags) => (await load.copy()).copyCommand(store, src, dst, flags)));

  program
    .command('login')
    .description("check credentials against a registry and store them in Docker's config.json")
    .argument('<host>')
    .option('-u, --username <user>', 'user name')
    .option('--password-stdin', 'read the password from stdin')
    .option('--insecure', 'allow plain HTTP and any TLS certificate')
    .option('--ca-cert <file>', 'trust this CA (PEM) for the registry (default: $SHALE_REGISTRY_CA)')
    .addOption(formatOption())
    .action(async (host: string, flags: RegistryFlags & { username?: string; passwordStdin?: boolean; format: OutputFormat }) => {
      printResult(await (await load.registry()).loginCommand(host, flags), flags.format);
    });

  const collectOrUnset = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];
  const registryOptions = (c: Command) =>
    c.option('--insecure', 'allow plain HTTP and any TLS certificate').option('--ca-cert <file>', 'trust this CA (PEM) for the registry (default: $SHALE_REGISTRY_CA)');
  registryOptions(
    program
      .command('mutate')
      .description('change the config of an image (of the store, or docker://HOST/REPO:TAG in its registry); without -t the image\'s tag moves to the result')
      .argument('<image>')
      .option('-t, --tag <ref>', 'name the result (default: the tag the image was named by)')
      .option('--entrypoint <list>', 'new entrypoint, comma-separated ("" removes it)', collectOrUnset)
      .option('--cmd <list>', 'new cmd, comma-separated ("" removes it)', collectOrUnset)
      .option('-e, --env <k=v>', 'set an environment variable (repeatable)', collect, [])
      .option('-l, --label <k=v>', 'set a label (repeatable)', collect, [])
      .option('-a, --annotation <k=v>', 'set a manifest annotation (repeatable)', collect, [])
      .option('-u, --user <user>', 'new user')
      .option('-w, --workdir <dir>', 'new working directory')
      .option('--exposed-ports <list>', 'ports to expose, PORT[/PROTO] comma-separated (repeatable)', collect, []),
  )
    .addOption(formatOption())
    .action(run(async (store, image: string, flags: MutateFlags) => (await load.edit()).mutateCommand(store, image, flags)));
  registryOptions(
    program
      .command('append')
      .description('add a tar (plain, gzip or zstd) as a new layer on top of an image (of the store, or docker://HOST/REPO:TAG)')
      .argument('<image>')
      .option('-f, --new-layer <tar>', 'the layer tar (repeatable: one layer each, in order)', collect, [])
      .option('-t, --tag <ref>', 'name the result (default: the tag the image was named by)'),
  )
    .addOption(formatOption())
    .action(run(async (store, image: string, flags: AppendFlags) => (await load.edit()).appendCommand(store, image, flags)));
  registryOptions(
    program
      .command('rebase')
      .description("replace the base layers of an image by a new base's (old base: the image's base annotations, or --old-base)")
      .argument('<image>')
      .option('--new-base <image>', "the base to put the image on (default: the image's base name annotation)")
      .option('--old-base <image>', "the base the image was built on (default: the image's base digest annotation)")
      .option('-t, --tag <ref>', 'name the result (default: the tag the image was named by)'),
  )
    .addOption(formatOption())
    .action(run(async (store, image: string, flags: RebaseFlags) => (await load.edit()).rebaseCommand(store, image, flags)));

  program
    .command('ls')
    .alias('tags')
    .description("list a repository's tags (every page the registry serves)")
    .argument('<repository>', 'HOST/REPO')
    .option('--insecure', 'allow plain HTTP and any TLS certificate')
    .option('--ca-cert <file>', 'trust this CA (PEM) for the registry (default: $SHALE_REGISTRY_CA)')
    .addOption(formatOption())
    .action(async (repository: string, flags: RegistryFlags & { format: OutputFormat }) => printResult(await (await load.remote()).tagsCommand(repository, flags), flags.format));

  program
    .command('digest')
    .description("print the digest of an image's manifest in a registry (of the index, for a tag naming one)")
    .argument('<ref>', 'HOST/REPO[:TAG|@DIGEST]')
    .option('--platform <os/arch[/variant]>', "the digest of this platform's manifest in an index")
    .option('--insecure', 'allow plain HTTP and any TLS certificate')
    .option('--ca-cert <file>', 'trust this CA (PEM) for the registry (default: $SHALE_REGISTRY_CA)')
    .addOption(formatOption())
    .action(async (ref: string, flags: RegistryFlags & { platform?: string; format: OutputFormat }) => printResult(await (await load.remote()).digestCommand(ref, flags), flags.format));

  for (const [name, description, fetch] of [
    ['manifest', 'print the manifest (or index) of an image in a registry, as served', 'manifestCommand'],
    ['config', 'print the config of an image in a registry, as stored', 'configCommand'],
  ] as const) {
    program
      .command(name)
      .description(description)
      .argument('<ref>', 'HOST/REPO[:TAG|@DIGEST]')
      .option('--platform <os/arch[/variant]>', "this platform's image of an index")
      .option('--insecure', 'allow plain HTTP and any TLS certificate')
      .option('--ca-cert <file>', 'trust this CA (PEM) for the registry (default: $SHALE_REGISTRY_CA)')
      .action(async (ref: string, flags: RegistryFlags & { platform?: string }) => {
        process.stdout.write((await (await load.remote())[fetch](ref, flags)).raw);
      });
  }

  program
    .command('logout')
    .description("remove a registry's credentials from Docker's config.json (Docker Hub without HOST)")
    .argument('[host]')
    .addOption(formatOption())
    .action(async (host: string | undefined, flags: { format: OutputFormat }) => printResult(await (await load.remote()).logoutCommand(host), flags.format));

  program.command('fsck').description('verify every blob and reference in the store').addOption(formatOption()).action(run(async (store) => (await load.commands()).fsckCommand(store)));

  // --root is taken after the command too (`shale images --root DIR`)
  for (const command of program.commands) command.addOption(new Option('--root <dir>', 'store location (as before the command)'));
  return program;
}

/** A message on one line: control characters (a newline in a name or field read from input) escaped. */
const oneLine = (message: string): string =>
  message.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));

/** Prints a user error as one line (plus hint) on stderr; exit status 2. */
function reportError(error: unknown): void {
  const e = explainUnmappedOwner(error);
  if (isShaleError(e)) {
    process.stderr.write(`error: ${oneLine(e.message)}\n`);
    if (e.hint) process.stderr.write(`hint: ${oneLine(e.hint)}\n`);
  } else if (e instanceof Error && 'code' in e && typeof (e as NodeJS.ErrnoException).syscall === 'string') {
    const err = e as NodeJS.ErrnoException;
    process.stderr.write(`error: ${oneLine(err.message)}\n`);
  } else {
    process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  }
  process.exitCode = isShaleError(e) ? e.exitCode : 2;
}

/** Resolves once what was written to `stream` has been handed to the system (or the stream is gone). */
const flushed = (stream: NodeJS.WriteStream): Promise<void> =>
  new Promise((resolve) => {
    if (stream.destroyed || stream.writableEnded) resolve();
    else stream.write('', () => resolve());
  });

/**
 * Runs the CLI and ends the process: once the command has printed its result or its error and stdout
 * and stderr are flushed, the process exits with the status it set, whatever handles are still open.
 */
export async function main(argv: string[]): Promise<void> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') dieOfBrokenPipe();
    reportError(e);
  });
  await runProgram(argv);
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit();
}

/** Parses `argv` and runs the command; sets process.exitCode. */
export async function runProgram(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? s : s) });
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
        process.exitCode = 0;
        return;
      }
      process.exitCode = e.exitCode === RUN_FAILED ? RUN_FAILED : 2; // commander already printed "error: ..."
      return;
    }
    reportError(e);
  }
}

export { ShaleError };
