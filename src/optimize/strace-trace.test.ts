import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerPaths, parseCall, syscallLines, unescapeStrace, type SyscallLine } from './strace-trace.js';

/**
 * Real lines of `strace -f -y --pidns-translation` around `runc run` of a busybox container started in /data as
 * `sh -c 'cat f; (sh -c "stat -c %s /bin/ls; cat ../etc/../data/f") ; ls /bin >/dev/null'` (runc's
 * cgroup, mount and signal lines left out, the store's path and ids shortened).
 */
const TRACE = [
  "18112 openat(AT_FDCWD</var/lib/shale/shale/snapshots/active/ctr-7b0f644453b03b640a21557673b82078/merged>, \"/\", O_RDONLY|O_DIRECTORY) = 6</>",
  "18112 openat(AT_FDCWD</var/lib/shale/shale/snapshots/active/ctr-7b0f644453b03b640a21557673b82078/merged>, \"/var/lib/shale/shale/snapshots/active/ctr-7b0f644453b03b640a21557673b82078/merged\", O_RDONLY|O_DIRECTORY) = 10</var/lib/shale/shale/snapshots/active/ctr-7b0f644453b03b640a21557673b82078/merged>",
  "18112 fchdir(10</var/lib/shale/shale/snapshots/active/ctr-7b0f644453b03b640a21557673b82078/merged>) = 0",
  "18112 pivot_root(\".\", \".\")              = 0",
  "18112 fchdir(6</>)                      = 0",
  "18112 umount2(\".\", MNT_DETACH)          = 0",
  "18112 chdir(\"/\")                        = 0",
  "18112 openat(AT_FDCWD</>, \"/dev/null\", O_RDWR|O_CLOEXEC) = 6</dev/null>",
  "18112 newfstatat(AT_FDCWD</>, \"/data\", {st_mode=S_IFDIR|0755, st_size=4096, ...}, 0) = 0",
  "18084 openat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/proc/18112/stat\", O_RDONLY|O_CLOEXEC) = 8</proc/18112/stat>",
  "18084 newfstatat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/proc/self/ns/user\", {st_mode=S_IFREG|0444, st_size=0, ...}, 0) = 0",
  "18084 newfstatat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/proc/self/ns/ipc\", {st_mode=S_IFREG|0444, st_size=0, ...}, 0) = 0",
  "18084 newfstatat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/proc/self/ns/uts\", {st_mode=S_IFREG|0444, st_size=0, ...}, 0) = 0",
  "18084 newfstatat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/proc/self/ns/net\", {st_mode=S_IFREG|0444, st_size=0, ...}, 0) = 0",
  "18084 newfstatat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/proc/self/ns/pid\", {st_mode=S_IFREG|0444, st_size=0, ...}, 0) = 0",
  "18084 newfstatat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/proc/self/ns/mnt\", {st_mode=S_IFREG|0444, st_size=0, ...}, 0) = 0",
  "18084 openat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc/c0ffee/state-3079230944\", O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 8</var/lib/shale/shale/runc/c0ffee/state-3079230944>",
  "18084 newfstatat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc/c0ffee/state.json\", 0xc000396fa8, AT_SYMLINK_NOFOLLOW) = -1 ENOENT (No such file or directory)",
  "18084 renameat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc/c0ffee/state-3079230944\", AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc/c0ffee/state.json\") = 0",
  "18112 newfstatat(AT_FDCWD</>, \"/proc/thread-self/attr\", {st_mode=S_IFDIR|0555, st_size=0, ...}, 0) = 0",
  "18112 openat(AT_FDCWD</>, \"/proc/self/fd\", O_RDONLY|O_CLOEXEC) = 6</proc/1/fd>",
  "18112 getdents64(6</proc/1/fd>, 0xc00020a000 /* 12 entries */, 8192) = 288",
  "18112 getdents64(6</proc/1/fd>, 0xc00020a000 /* 0 entries */, 8192) = 0",
  "18112 chdir(\"/data\")                    = 0",
  "18112 openat(AT_FDCWD</data>, \"/proc/self/status\", O_RDONLY|O_CLOEXEC) = 6</proc/1/status>",
  "18112 openat(AT_FDCWD</data>, \"/etc/passwd\", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)",
  "18112 openat(AT_FDCWD</data>, \"/etc/group\", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)",
  "18112 openat(AT_FDCWD</data>, \"/etc/group\", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)",
  "18112 newfstatat(AT_FDCWD</data>, \"/dev/null\", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}, 0) = 0",
  "18112 openat(AT_FDCWD</data>, \"/proc/self/setgroups\", O_RDONLY|O_CLOEXEC) = 6</proc/1/setgroups>",
  "18112 getcwd(\"/data\", 4096)             = 6",
  "18112 newfstatat(AT_FDCWD</data>, \"/usr/local/sbin/sh\", 0xc0002036f8, 0) = -1 ENOENT (No such file or directory)",
  "18112 newfstatat(AT_FDCWD</data>, \"/usr/local/bin/sh\", 0xc0002037c8, 0) = -1 ENOENT (No such file or directory)",
  "18112 newfstatat(AT_FDCWD</data>, \"/usr/sbin/sh\", 0xc000203898, 0) = -1 ENOENT (No such file or directory)",
  "18112 newfstatat(AT_FDCWD</data>, \"/usr/bin/sh\", 0xc000203968, 0) = -1 ENOENT (No such file or directory)",
  "18112 newfstatat(AT_FDCWD</data>, \"/sbin/sh\", 0xc000203a38, 0) = -1 ENOENT (No such file or directory)",
  "18112 newfstatat(AT_FDCWD</data>, \"/bin/sh\", {st_mode=S_IFREG|0755, st_size=1982256, ...}, 0) = 0",
  "18112 faccessat2(AT_FDCWD</data>, \"/bin/sh\", X_OK, AT_EACCESS) = 0",
  "18112 openat(AT_FDCWD</data>, \"/proc/self/fd/5\", O_WRONLY|O_CLOEXEC <unfinished ...>",
  "18109 openat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/proc/18112/stat\", O_RDONLY|O_CLOEXEC) = 8</proc/18112/stat>",
  "18109 newfstatat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc/c0ffee/exec.fifo\", {st_mode=S_IFIFO|0622, st_size=0, ...}, 0) = 0",
  "18109 openat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc/c0ffee/exec.fifo\", O_RDONLY|O_CLOEXEC) = 8</var/lib/shale/shale/runc/c0ffee/exec.fifo>",
  "18112 <... openat resumed>)             = 3</var/lib/shale/shale/runc/c0ffee/exec.fifo>",
  "18112 openat(AT_FDCWD</data>, \"/proc/self/fd\", O_RDONLY|O_CLOEXEC) = 4</proc/1/fd>",
  "18112 getdents64(4</proc/1/fd>, 0xc00020a000 /* 10 entries */, 8192) = 240",
  "18112 getdents64(4</proc/1/fd>, 0xc00020a000 /* 0 entries */, 8192) = 0",
  "18108 unlinkat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc/c0ffee/exec.fifo\", 0 <unfinished ...>",
  "18112 execve(\"/bin/sh\", [\"sh\", \"-c\", \"cat f; (sh -c \\\"stat -c %s /bin/ls; cat ../etc/../data/f\\\") ; ls /bin >/dev/null\"], 0xc000013590 /* 2 vars */ <unfinished ...>",
  "18108 <... unlinkat resumed>)           = 0",
  "18108 openat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/containers/c0ffee/bundle/.runc.pid\", O_RDWR|O_CREAT|O_EXCL|O_SYNC|O_CLOEXEC, 0666) = 7</var/lib/shale/shale/containers/c0ffee/bundle/.runc.pid>",
  "18108 newfstatat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/containers/c0ffee/bundle/runc.pid\", 0xc000397218, AT_SYMLINK_NOFOLLOW) = -1 ENOENT (No such file or directory)",
  "18108 renameat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/containers/c0ffee/bundle/.runc.pid\", AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/containers/c0ffee/bundle/runc.pid\") = 0",
  "18112 <... execve resumed>)             = 0",
  "18112 readlink(\"/proc/self/exe\", \"/bin/busybox\", 4096) = 12",
  "18112 getcwd(\"/data\", 4096)             = 6",
  "18112 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD <unfinished ...>",
  "18126 execve(\"/proc/self/exe\", [\"cat\", \"f\"], 0x29adb958 /* 4 vars */ <unfinished ...>",
  "18112 <... clone resumed>, child_tidptr=0x29ad9690) = 6 /* 18126 in strace's PID NS */",
  "18126 <... execve resumed>)             = 0",
  "18126 readlink(\"/proc/self/exe\", \"/bin/busybox\", 4096) = 12",
  "18126 openat(AT_FDCWD</data>, \"f\", O_RDONLY) = 3</data/f>",
  "18126 exit_group(0)                     = ?",
  "18112 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x29ad9690) = 7 /* 18127 in strace's PID NS */",
  "18127 execve(\"/proc/self/exe\", [\"sh\", \"-c\", \"stat -c %s /bin/ls; cat ../etc/../data/f\"], 0x29adb9a0 /* 4 vars */) = 0",
  "18127 readlink(\"/proc/self/exe\", \"/bin/busybox\", 4096) = 12",
  "18127 newfstatat(AT_FDCWD</data>, \"/data\", {st_mode=S_IFDIR|0755, st_size=4096, ...}, 0) = 0",
  "18127 newfstatat(AT_FDCWD</data>, \".\", {st_mode=S_IFDIR|0755, st_size=4096, ...}, 0) = 0",
  "18127 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x151f3690) = 8 /* 18128 in strace's PID NS */",
  "18128 newfstatat(AT_FDCWD</data>, \"/bin/ls\", {st_mode=S_IFLNK|0777, st_size=7, ...}, AT_SYMLINK_NOFOLLOW) = 0",
  "18128 newfstatat(1<pipe:[2833122]>, \"\", {st_mode=S_IFIFO|0600, st_size=0, ...}, AT_EMPTY_PATH) = 0",
  "18128 exit_group(0)                     = ?",
  "18127 execve(\"/proc/self/exe\", [\"cat\", \"../etc/../data/f\"], 0x151f5878 /* 4 vars */) = 0",
  "18127 readlink(\"/proc/self/exe\", \"/bin/busybox\", 4096) = 12",
  "18127 openat(AT_FDCWD</data>, \"../etc/../data/f\", O_RDONLY) = 3</data/f>",
  "18127 exit_group(0)                     = ?",
  "18112 openat(AT_FDCWD</data>, \"/dev/null\", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</dev/null>",
  "18112 newfstatat(AT_FDCWD</data>, \"/bin\", {st_mode=S_IFDIR|0755, st_size=4096, ...}, 0) = 0",
  "18112 openat(AT_FDCWD</data>, \"/bin\", O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY) = 3</bin>",
  "18112 newfstatat(3</bin>, \"\", {st_mode=S_IFDIR|0755, st_size=4096, ...}, AT_EMPTY_PATH) = 0",
  "18112 getdents64(3</bin>, 0x29adbc60 /* 7 entries */, 32768) = 176",
  "18112 newfstatat(AT_FDCWD</data>, \"/bin/sh\", {st_mode=S_IFLNK|0777, st_size=7, ...}, AT_SYMLINK_NOFOLLOW) = 0",
  "18112 newfstatat(AT_FDCWD</data>, \"/bin/busybox\", {st_mode=S_IFREG|0755, st_size=1982256, ...}, AT_SYMLINK_NOFOLLOW) = 0",
  "18112 newfstatat(AT_FDCWD</data>, \"/bin/stat\", {st_mode=S_IFLNK|0777, st_size=7, ...}, AT_SYMLINK_NOFOLLOW) = 0",
  "18112 newfstatat(AT_FDCWD</data>, \"/bin/cat\", {st_mode=S_IFLNK|0777, st_size=7, ...}, AT_SYMLINK_NOFOLLOW) = 0",
  "18112 newfstatat(AT_FDCWD</data>, \"/bin/ls\", {st_mode=S_IFLNK|0777, st_size=7, ...}, AT_SYMLINK_NOFOLLOW) = 0",
  "18112 getdents64(3</bin>, 0x29adbc60 /* 0 entries */, 32768) = 0",
  "18112 newfstatat(1</dev/null>, \"\", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}, AT_EMPTY_PATH) = 0",
  "18112 exit_group(0)                     = ?",
  "18085 waitid(P_PID, 18112, 0xc000190028, WEXITED|WNOWAIT, NULL) = -1 ECHILD (No child processes)",
  "18085 unlinkat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc/c0ffee\", 0) = -1 EISDIR (Is a directory)",
  "18085 unlinkat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc/c0ffee\", AT_REMOVEDIR) = -1 ENOTEMPTY (Directory not empty)",
  "18085 openat(AT_FDCWD</var/lib/shale/shale/containers/c0ffee/bundle>, \"/var/lib/shale/shale/runc\", O_RDONLY|O_CLOEXEC) = 7</var/lib/shale/shale/runc>",
  "18085 unlinkat(7</var/lib/shale/shale/runc>, \"c0ffee\", 0) = -1 EISDIR (Is a directory)",
  "18085 newfstatat(7</var/lib/shale/shale/runc>, \"c0ffee\", {st_mode=S_IFDIR|0711, st_size=4096, ...}, AT_SYMLINK_NOFOLLOW) = 0",
  "18085 openat(7</var/lib/shale/shale/runc>, \"c0ffee\", O_RDONLY|O_CLOEXEC) = 8</var/lib/shale/shale/runc/c0ffee>",
  "18085 getdents64(8</var/lib/shale/shale/runc/c0ffee>, 0xc0003c0000 /* 3 entries */, 8192) = 80",
  "18085 getdents64(8</var/lib/shale/shale/runc/c0ffee>, 0xc0003c0000 /* 0 entries */, 8192) = 0",
  "18085 unlinkat(8</var/lib/shale/shale/runc/c0ffee>, \"state.json\", 0) = 0",
  "18085 unlinkat(7</var/lib/shale/shale/runc>, \"c0ffee\", AT_REMOVEDIR) = 0",
  "18085 exit_group(0)                     = ?",
].join('\n');

test('the container is the pivot_root process from its execve on, with every process it cloned; runc is not', async () => {
  const paths = await containerPaths(() => TRACE.split('\n'), '/data');
  const byPath = new Map(paths.map((p) => [p.path, p.accesses]));
  assert.deepEqual(byPath.get('/bin/sh'), ['exec', 'stat'], 'the first execve, then ls lists /bin and stats its entries');
  assert.deepEqual(byPath.get('/data/f'), ['open'], 'a relative path of a child, resolved with its cwd');
  assert.deepEqual(byPath.get('/bin/ls'), ['stat'], 'a stat of a child of a child');
  assert.deepEqual(byPath.get('/bin'), ['stat', 'open', 'list']);
  assert.ok(!byPath.has('/usr/local/sbin/sh'), "runc's own PATH search before the execve is not the container's");
  assert.ok(!byPath.has('/etc/passwd'), "runc's user lookup is not the container's");
  assert.ok(![...byPath.keys()].some((p) => p.startsWith('/var/lib/shale')), "runc's state files are not the container's");
});

test('an unfinished call is joined with its resumed rest', async () => {
  const lines: SyscallLine[] = [];
  for await (const l of syscallLines(['7 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>', '8 exit_group(0) = ?', "7 <... clone resumed>, child_tidptr=0x1) = 6 /* 9 in strace's PID NS */"])) lines.push(l);
  assert.deepEqual(lines.map((l) => [l.pid, l.name, l.ret]), [[8, 'exit_group', '?'], [7, 'clone', "6 /* 9 in strace's PID NS */"]]);
  assert.deepEqual(lines[1]!.args, ['child_stack=NULL', 'flags=SIGCHLD', 'child_tidptr=0x1']);
});

test('arguments split at top-level commas; strings and fd paths keep theirs', () => {
  const c = parseCall('openat(3</a, b>, "x, \\"y\\")", O_RDONLY) = 4</a, b/x>');
  assert.deepEqual(c, { name: 'openat', args: ['3</a, b>', '"x, \\"y\\")"', 'O_RDONLY'], ret: '4</a, b/x>' });
  assert.equal(unescapeStrace(String.raw`caf\303\251\x21\n`), 'café!\n');
});
