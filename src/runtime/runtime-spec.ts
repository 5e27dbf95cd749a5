import { lstat } from 'node:fs/promises';
import { inUserNamespace, mapsSingleId } from '../internal/user-namespace.js';

/** The parts of an OCI runtime spec (config.json) shale writes; see the runtime-spec's config.md. */
export interface RuntimeSpec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted', string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  linux: {
    namespaces: { type: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
    resources: { devices: { allow: boolean; access: string }[] };
  };
}

/** Docker's default capability set for containers. */
const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

export interface BindMount {
  source: string;
  destination: string;
  readonly?: boolean;
}

export interface SpecOptions {
  rootfs: string;
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids?: number[] };
  hostname: string;
  network: 'host' | 'none';
  terminal?: boolean;
  binds?: BindMount[];
  /** Further mounts as the spec writes them (tmpfs, bind options), after the binds. */
  extraMounts?: RuntimeSpec['mounts'];
}

/** The host's DNS files, bound read-only into a container that shares the host's network. */
export async function hostNetworkFiles(): Promise<BindMount[]> {
  const binds: BindMount[] = [];
  for (const f of ['/etc/resolv.conf', '/etc/hosts']) {
    if (await lstat(f).then(() => true, () => false)) binds.push({ source: f, destination: f, readonly: true });
  }
  return binds;
}

/**
 * /sys: a new sysfs, except in a user namespace without a network namespace of its own, where the kernel
 * refuses that mount (sysfs belongs to the network namespace's owner): there the host's, bound read-only.
 */
function sysMount(network: 'host' | 'none'): RuntimeSpec['mounts'][number] {
  if (network === 'host' && inUserNamespace()) return { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
  return { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] };
}

/** A runtime spec for one container: its own pid/ipc/uts/mount namespaces, a network namespace when `none`. */
export function makeRuntimeSpec(o: SpecOptions): RuntimeSpec {
  const namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (o.network === 'none') namespaces.push({ type: 'network' });
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: o.terminal ?? false,
      user: o.user,
      args: o.args,
      env: o.env,
      cwd: o.cwd,
      capabilities: { bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS },
      noNewPrivileges: false,
    },
    root: { path: o.rootfs, readonly: false },
    hostname: o.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      // the tty group (5) owns the ptys, unless the namespace maps only one id
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(mapsSingleId() ? [] : ['gid=5'])] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      sysMount(o.network),
      ...(o.binds ?? []).map((b) => ({
        destination: b.destination,
        type: 'bind',
        source: b.source,
        options: ['rbind', b.readonly ? 'ro' : 'rw'],
      })),
      ...(o.extraMounts ?? []),
    ],
    linux: {
      namespaces,
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      resources: { devices: [{ allow: false, access: 'rwm' }] },
    },
  };
}
