#!/usr/bin/env python3
"""Removes from a published .NET folder the binaries that no *.deps.json in it refers to.

Several self-contained apps published into one folder share one runtime; packages drag in files no app loads
(code-coverage tools for other platforms, satellite folders, MSBuild props). The deps.json files are the
loader's own list of what each app may load, so anything binary outside them is dead weight in the GPU bundle.
Data files (test goldens, scripts, *.json, *.pdb beside a kept assembly) are kept.

  prune-bundle.py DIR      prints the removed paths and the bytes saved
"""
import json, os, sys

BINARY = (".dll", ".so", ".dylib", ".exe", ".a", ".config", ".props", ".targets")


def referenced(folder):
    names = set()
    for f in os.listdir(folder):
        if not f.endswith(".deps.json"):
            continue
        names.add(f[: -len(".deps.json")])  # the apphost
        with open(os.path.join(folder, f)) as fh:
            deps = json.load(fh)
        for target in deps.get("targets", {}).values():
            for lib in target.values():
                for kind in ("runtime", "native", "resources"):
                    for asset, info in lib.get(kind, {}).items():
                        culture = (info or {}).get("locale")
                        base = os.path.basename(asset)
                        names.add(f"{culture}/{base}" if culture else base)
    return names


def main(folder):
    keep = referenced(folder)
    if not keep:
        sys.exit(f"prune-bundle: no *.deps.json in {folder}")
    removed, saved = [], 0
    for root, _, files in os.walk(folder):
        for f in files:
            path = os.path.join(root, f)
            rel = os.path.relpath(path, folder)
            if f.endswith(".pdb"):
                dead = os.path.splitext(rel)[0] + ".dll" not in keep and os.path.splitext(rel)[0] not in keep
            else:
                dead = f.endswith(BINARY) and rel not in keep
            if dead:
                saved += os.path.getsize(path)
                os.remove(path)
                removed.append(rel)
    for root, dirs, files in os.walk(folder, topdown=False):
        if root != folder and not os.listdir(root):
            os.rmdir(root)
    for r in sorted(removed):
        print(f"pruned {r}")
    print(f"pruned {len(removed)} files, {saved / 2**20:.1f} MiB")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
