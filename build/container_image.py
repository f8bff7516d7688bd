"""Build an OCI container image of the single executable, pulling nothing.

The image is ``FROM scratch`` plus exactly what the executable needs: the Nuitka onefile
binary at ``/usr/local/bin/hypercube``, the shared libraries ``ldd`` says it loads (and the
dynamic loader), an ``/etc/passwd`` with the unprivileged ``hypercube`` user (10001), a
``/data`` volume owned by it, and a world-writable ``/tmp`` (the onefile binary unpacks
itself there). No base image is downloaded, no package manager runs, and nothing in it
reaches the network when it runs.

The result is one tar file in both layouts at once — the OCI image layout (``oci-layout``,
``index.json``, ``blobs/sha256/…``) and Docker's (``manifest.json``) — so ``docker load``,
``podman load`` and ``skopeo copy oci-archive:…`` all take it. The image runs ``hypercube
serve --host 0.0.0.0`` as user 10001 with ``HYPERCUBE_DATA_DIR=/data``, exposes 8080 and
checks its health with ``hypercube health`` (GET /health on the loopback port).
Entries are sorted with fixed times and owners, so the same executable gives the same
image digest.

    python build/container_image.py                       # build/out/hypercube → image tar
    python build/container_image.py EXE --out FILE --tag hypercube:0.1.0
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "build" / "out"
USER_ID = 10001
BINARY = "usr/local/bin/hypercube"
PORT = 8080
EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
_LDD_LINE = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x")


@dataclass(frozen=True)
class Image:
    tar: Path
    manifest_digest: str
    config_digest: str
    layer_digest: str


def shared_libraries(executable: Path) -> list[Path]:
    """The shared objects the dynamic loader maps for ``executable`` (none if static)."""
    try:
        result = subprocess.run(["ldd", str(executable)], capture_output=True, text=True,
                                check=False)
    except FileNotFoundError as exc:
        raise SystemExit("build: ldd is needed to find the executable's libraries") from exc
    if result.returncode != 0:
        if "not a dynamic executable" in (result.stdout + result.stderr):
            return []
        raise SystemExit(f"build: ldd {executable} failed: {result.stderr.strip()}")
    found = []
    for line in result.stdout.splitlines():
        match = _LDD_LINE.search(line)
        if match:
            found.append(Path(match.group(1)))
    return sorted(set(found))


def _info(name: str, *, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, size: int = 0,
          owner: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size = kind, mode, size
    info.uid = info.gid = owner
    info.uname = info.gname = "hypercube" if owner else "root"
    info.mtime = EPOCH
    info.linkname = link
    return info


def _layer(executable: Path) -> bytes:
    """The image's one layer as an uncompressed tar."""
    entries: dict[str, tuple[tarfile.TarInfo, bytes | None]] = {}

    def folder(name: str, mode: int = 0o755, owner: int = 0) -> None:
        parts = name.strip("/").split("/")
        for end in range(1, len(parts) + 1):
            path = "/".join(parts[:end])
            if path not in entries:
                entries[path] = (_info(path, kind=tarfile.DIRTYPE, mode=0o755), None)
        entries[name.strip("/")] = (_info(name.strip("/"), kind=tarfile.DIRTYPE, mode=mode,
                                          owner=owner), None)

    def file(name: str, data: bytes, mode: int = 0o644) -> None:
        folder(str(Path(name).parent))
        entries[name] = (_info(name, mode=mode, size=len(data)), data)

    file(BINARY, executable.read_bytes(), 0o755)
    for library in shared_libraries(executable):
        real = library.resolve()
        name = str(library).lstrip("/")
        if real != library:  # keep the name the loader asks for, pointing at the file
            file(str(real).lstrip("/"), real.read_bytes(), 0o755)
            folder(str(Path(name).parent))
            entries[name] = (_info(name, kind=tarfile.SYMTYPE, mode=0o777,
                                   link=str(real)), None)
        else:
            file(name, real.read_bytes(), 0o755)
    file("etc/passwd", f"root:x:0:0:root:/root:/sbin/nologin\n"
                       f"hypercube:x:{USER_ID}:{USER_ID}:Hypercube:/data:/sbin/nologin\n"
                       .encode())
    file("etc/group", f"root:x:0:\nhypercube:x:{USER_ID}:\n".encode())
    folder("data", 0o755, USER_ID)
    folder("tmp", 0o1777)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            info, data = entries[name]
            tar.addfile(info, None if data is None else io.BytesIO(data))
    return buffer.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config(diff_id: str, version: str) -> dict:
    return {
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine,
                                                                   os.uname().machine),
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "User": f"{USER_ID}:{USER_ID}",
            "Entrypoint": [f"/{BINARY}"],
            "Cmd": ["serve", "--host", "0.0.0.0", "--port", str(PORT)],
            # The executable unpacks itself once into $XDG_CACHE_HOME (build_executable.py):
            # /tmp, the scratch volume, not the data volume.
            "Env": ["HYPERCUBE_DATA_DIR=/data", "TMPDIR=/tmp", "XDG_CACHE_HOME=/tmp/cache"],
            "WorkingDir": "/data",
            "ExposedPorts": {f"{PORT}/tcp": {}},
            "Volumes": {"/data": {}},
            "Healthcheck": {"Test": ["CMD", f"/{BINARY}", "health", "--port", str(PORT)],
                            "Interval": 10_000_000_000, "Timeout": 5_000_000_000,
                            "StartPeriod": 120_000_000_000, "Retries": 3},
            "Labels": {"org.opencontainers.image.title": "hypercube",
                       "org.opencontainers.image.version": version,
                       "org.opencontainers.image.description":
                           "Offline local OpenAI endpoint over a SQLite hypercube"},
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z",
                     "created_by": "build/container_image.py"}],
    }


def build_image(executable: Path, out: Path, tag: str) -> Image:
    """Write the image of ``executable`` to the tar file ``out``."""
    if not executable.is_file():
        raise SystemExit(f"build: no executable at {executable}: run "
                         "build/build_executable.py first")
    layer = _layer(executable)
    compressed = gzip.compress(layer, compresslevel=6, mtime=0)
    version = tag.rpartition(":")[2] if ":" in tag else "latest"
    config = json.dumps(_config(_digest(layer), version), sort_keys=True).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": _digest(compressed), "size": len(compressed)}],
    }, sort_keys=True).encode()
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": _digest(manifest), "size": len(manifest),
                       "annotations": {"io.containerd.image.name": tag,
                                       "org.opencontainers.image.ref.name": version}}],
    }, sort_keys=True).encode()
    blob = "blobs/sha256/{}".format
    docker = json.dumps([{"Config": blob(_digest(config)[7:]), "RepoTags": [tag],
                          "Layers": [blob(_digest(compressed)[7:])]}]).encode()
    files = {
        "oci-layout": b'{"imageLayoutVersion": "1.0.0"}',
        "index.json": index,
        "manifest.json": docker,
        blob(_digest(config)[7:]): config,
        blob(_digest(manifest)[7:]): manifest,
        blob(_digest(compressed)[7:]): compressed,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in ("blobs", "blobs/sha256"):
            tar.addfile(_info(name, kind=tarfile.DIRTYPE, mode=0o755))
        for name in sorted(files):
            tar.addfile(_info(name, size=len(files[name])), io.BytesIO(files[name]))
    os.replace(partial, out)
    return Image(out, _digest(manifest), _digest(config), _digest(compressed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("executable", nargs="?", type=Path, default=OUT / "hypercube")
    parser.add_argument("--out", type=Path, default=OUT / "hypercube-image.tar")
    parser.add_argument("--tag", default=None, help="name:tag (default hypercube:VERSION)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from app import __version__

    image = build_image(args.executable, args.out, args.tag or f"hypercube:{__version__}")
    print(f"image {image.tar} ({image.tar.stat().st_size / 1e6:.1f} MB), manifest "
          f"{image.manifest_digest}; load it with `docker load -i {image.tar}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
