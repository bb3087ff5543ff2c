#!/usr/bin/env bash
# Runs a command with no .NET reachable, as on a GPU box: proves a self-contained bundle needs no SDK or runtime.
#   scripts/lib/without-dotnet.sh COMMAND [ARGS…]
# As root (where unshare is allowed) the SDK folders are covered by empty tmpfs mounts in a private mount namespace,
# so nothing can load from them. Elsewhere the best available: DOTNET_ROOT unset and a `dotnet` first on PATH that
# fails. The environment is otherwise kept (OUT, STEPS, … for gpu-run.sh).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: without-dotnet.sh COMMAND [ARGS…]" >&2; exit 2; }
unset DOTNET_ROOT DOTNET_HOST_PATH MSBuildExtensionsPath MSBuildSDKsPath
hidden=()
for d in /usr/share/dotnet /usr/lib/dotnet /usr/lib64/dotnet /opt/dotnet "${HOME:-/root}/.dotnet"; do
  [ -d "$d" ] && hidden+=("$d")
done
if [ ${#hidden[@]} -gt 0 ] && unshare -m true 2>/dev/null; then
  exec unshare -m bash -c 'n=$1; shift; for ((i = 0; i < n; i++)); do mount -t tmpfs tmpfs "$1"; shift; done
    if dotnet --version >/dev/null 2>&1; then echo "without-dotnet: dotnet still runs" >&2; exit 1; fi
    exec "$@"' _ "${#hidden[@]}" "${hidden[@]}" "$@"
fi
shim=$(mktemp -d "${TMPDIR:-/tmp}/no-dotnet.XXXXXX")
printf '#!/bin/sh\necho "dotnet is hidden (without-dotnet.sh)" >&2\nexit 127\n' > "$shim/dotnet"
chmod +x "$shim/dotnet"
echo "without-dotnet: unshare is not allowed here; hiding dotnet behind a failing shim on PATH only" >&2
PATH="$shim:$PATH" exec "$@"
