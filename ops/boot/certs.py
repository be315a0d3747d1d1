"""Throwaway certificate authorities and server certificates, made with the `openssl` command (ECDSA P-256, valid
for a week): what cert-manager and CloudNativePG would issue, for one boot."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ops.engine.toolchain import ToolchainError

DAYS = "7"
CURVE = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Pair:
    """A certificate and its key, as files."""

    cert: Path
    key: Path

    @property
    def pem(self) -> bytes:
        return self.cert.read_bytes()


def certificate_authority(directory: Path, name: str, common_name: str) -> Pair:
    """A self-signed CA certificate (`<name>.crt`, `<name>.key` in `directory`)."""
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    _openssl("req", "-x509", *CURVE, "-keyout", str(pair.key), "-out", str(pair.cert), "-days", DAYS,
             "-subj", f"/CN={common_name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return pair


def server_certificate(ca: Pair, directory: Path, name: str, dns_names: Sequence[str]) -> Pair:
    """A server certificate for `dns_names` (subjectAltName; the first is also the CN), signed by `ca`."""
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    request, extensions = directory / f"{name}.csr", directory / f"{name}.ext"
    names = list(dict.fromkeys(dns_names))
    extensions.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                          "extendedKeyUsage=serverAuth\n"
                          f"subjectAltName={','.join(f'DNS:{dns}' for dns in names)}\n")
    _openssl("req", *CURVE, "-keyout", str(pair.key), "-out", str(request), "-subj", f"/CN={names[0][:64]}")
    _openssl("x509", "-req", "-in", str(request), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
             "-out", str(pair.cert), "-days", DAYS, "-extfile", str(extensions))
    return pair


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        raise ToolchainError("`openssl` is not on PATH (it makes the boot's certificates): apt-get install openssl")
    result = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise ToolchainError(f"openssl {args[0]} failed: {result.stderr.strip()[-300:]}")
