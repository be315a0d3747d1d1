"""A pod's root filesystem as a directory tree: what the distroless static image holds (users, CA bundle, tzdata,
/etc/nsswitch.conf, an empty /home/nonroot), what the container runtime and kubelet add (/dev's character devices,
/dev/shm, /dev/termination-log, /etc/hosts, /etc/hostname, /etc/resolv.conf, the /proc mount point), then the
pod's own files (the binary, mounted Secrets and ConfigMaps) and writable emptyDirs.

Everything is root-owned and, for a non-root user, read-only except /dev/shm and the emptyDirs: the behaviour of
`readOnlyRootFilesystem: true`, which every OpenFoundry container sets. Host files are hard-linked, not copied.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

NONROOT = 65532                                 # distroless's nonroot user and group
DISTROLESS_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}   # the image's ENV, for callers to merge
DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}
BASE_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
                  "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    "etc/group": "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n",
    "etc/nsswitch.conf": "hosts: files dns\n",
    "etc/os-release": 'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\nVERSION_ID="12"\n',
    "etc/resolv.conf": "nameserver 127.0.0.1\n",           # nothing listens there: names resolve from /etc/hosts only
}
HOST_TREES = ("etc/ssl/certs/ca-certificates.crt", "usr/share/zoneinfo")   # the image's CA bundle and tzdata
HOSTS_HEAD = ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
              "fe00::0\tip6-localnet\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n")


def make_root(root: Path, files: Mapping[str, bytes | Path], dirs: Sequence[str], hostname: str, address: str,
              hosts: Mapping[str, str]) -> None:
    """The distroless static image's tree (users, CA bundle, tzdata, /home/nonroot, a /tmp that is read-only
    unless `dirs` names it), a pod's /dev and /proc mount point, then the caller's files and writable dirs on top,
    and the kubelet's /etc/hostname and /etc/hosts (`hosts`: name -> address, as hostAliases)."""
    for name in ("proc", "sys", "tmp", "usr/local/bin", "dev", "home"):
        (root / name).mkdir(parents=True, mode=0o755)
    (root / "home/nonroot").mkdir(mode=0o700)
    os.chown(root / "home/nonroot", NONROOT, NONROOT)
    for name, (major, minor) in DEVICES.items():
        os.mknod(root / "dev" / name, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
        os.chmod(root / "dev" / name, 0o666)
    _writable(root / "dev/shm", 0o1777)
    (root / "dev/termination-log").touch()
    (root / "dev/termination-log").chmod(0o666)
    for relative, text in BASE_FILES.items():
        _put(root / relative, text.encode())
    for relative in HOST_TREES:
        if Path("/", relative).exists():
            _place(root / relative, Path("/", relative))
    for target, content in files.items():
        if isinstance(content, bytes):
            _put(root / target.lstrip("/"), content)
        else:
            _place(root / target.lstrip("/"), content)
    for target in dirs:
        _writable(root / target.lstrip("/"), 0o777)
    (root / "etc/hostname").write_text(f"{hostname}\n")
    (root / "etc/hosts").write_text(hosts_file(address, hostname, hosts))


def hosts_file(address: str, hostname: str, hosts: Mapping[str, str]) -> str:
    """/etc/hosts as the kubelet writes it, with `hosts` (name -> address) as hostAliases."""
    by_address: dict[str, list[str]] = {}
    for name, target in hosts.items():
        by_address.setdefault(target, []).append(name)
    aliases = "".join(f"{target}\t{' '.join(names)}\n" for target, names in by_address.items())
    return f"{HOSTS_HEAD}{address}\t{hostname}\n" + (f"\n# Entries added by HostAliases.\n{aliases}" if aliases else "")


def _put(target: Path, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    target.write_bytes(content)
    target.chmod(0o644)


def _place(target: Path, source: Path) -> None:
    """A host file or tree into the root: hard links (a 25 MiB binary costs nothing), copies across filesystems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True)
    else:
        target.unlink(missing_ok=True)
        _link_or_copy(str(source), str(target))


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _writable(target: Path, mode: int) -> None:
    target.mkdir(parents=True, exist_ok=True)
    target.chmod(mode)
