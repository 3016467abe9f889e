"""Packs the Python package's wheel around a native module cargo has already built.

`maturin build` compiles the module on its own, resolving features for absnet-py alone; they
differ from the workspace build's (which unifies every crate's), so it compiles burn and the
model a second time: minutes on two cores. This script takes the workspace build's
`lib_absnet.so` instead — the same library maturin packs — with the package metadata maturin
writes from pyproject.toml (`maturin pep517 write-dist-info`), and writes a wheel (PEP 427) that
pip installs like maturin's.

Usage: python3 wheel_from_build.py PYPROJECT DIST_INFO LIBRARY OUT_DIR
(the package's sources and the native module's name come from PYPROJECT's [tool.maturin]).
"""

import base64
import hashlib
import pathlib
import sys
import tomllib
import zipfile


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main() -> None:
    pyproject, dist_info, library, out = map(pathlib.Path, sys.argv[1:5])
    maturin = tomllib.loads(pyproject.read_text())["tool"]["maturin"]
    # `absnet._absnet` → the package `absnet` (under python-source) and its `_absnet` module.
    package_name, module = maturin["module-name"].rsplit(".", 1)
    package = pyproject.parent / maturin["python-source"] / package_name
    tag = next(
        line.split(": ", 1)[1]
        for line in (dist_info / "WHEEL").read_text().splitlines()
        if line.startswith("Tag: ")
    )
    name, version = dist_info.name.removesuffix(".dist-info").split("-")
    # The sources, without byte code or a native module some other build left there.
    sources = [
        p
        for p in sorted(package.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".so"
    ]
    files = {f"{package.name}/{p.relative_to(package)}": p.read_bytes() for p in sources}
    files[f"{package.name}/{module}.abi3.so"] = library.read_bytes()
    for p in sorted(dist_info.iterdir()):
        files[f"{dist_info.name}/{p.name}"] = p.read_bytes()
    record = f"{dist_info.name}/RECORD"
    lines = [record_line(n, d) for n, d in files.items()] + [f"{record},,"]
    files[record] = ("\n".join(lines) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for n, d in files.items():
            info = zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if n.endswith(".so") else 0o644) << 16
            archive.writestr(info, d, zipfile.ZIP_DEFLATED)
    print(wheel)


if __name__ == "__main__":
    main()
