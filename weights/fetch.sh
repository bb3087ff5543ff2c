#!/usr/bin/env bash
# Fetches real GPT-2 weights (Hugging Face safetensors + config.json) into weights/<name>/ and verifies them.
#   weights/fetch.sh gpt2            # or gpt2-medium, gpt2-large, gpt2-xl
# Needs internet, curl, sha256sum and python3. Verification: the SHA-256 of model.safetensors must equal the
# LFS object id Hugging Face publishes for that file at the pinned revision (its tree API), and, where
# weights/SHA256SUMS lists the file, that value too; then `engine info` must open the model.
set -euo pipefail
name="${1:?usage: weights/fetch.sh gpt2|gpt2-medium|gpt2-large|gpt2-xl}"
case "$name" in gpt2|gpt2-medium|gpt2-large|gpt2-xl) ;; *) echo "unknown model '$name'" >&2; exit 2 ;; esac
repo="openai-community/$name"
revision="${REVISION:-main}"
here="$(cd "$(dirname "$0")" && pwd)"
dest="$here/$name"
mkdir -p "$dest"
base="https://huggingface.co/$repo/resolve/$revision"

expected="$(curl -fsSL "https://huggingface.co/api/models/$repo/tree/$revision" | python3 -c '
import json, sys
for f in json.load(sys.stdin):
    if f.get("path") == "model.safetensors":
        print(f["lfs"]["oid"])')"
[ -n "$expected" ] || { echo "could not read the published checksum of $repo/model.safetensors" >&2; exit 1; }

for f in config.json model.safetensors; do
  if [ ! -f "$dest/$f" ]; then
    curl -fL --retry 3 -o "$dest/$f.part" "$base/$f"
    mv "$dest/$f.part" "$dest/$f"
  fi
done

actual="$(sha256sum "$dest/model.safetensors" | cut -d' ' -f1)"
if [ "$actual" != "$expected" ]; then
  echo "$dest/model.safetensors: SHA-256 $actual does not match the published $expected; delete it and retry" >&2
  exit 1
fi
pinned="$(grep -E " $name/model.safetensors\$" "$here/SHA256SUMS" 2>/dev/null | cut -d' ' -f1 || true)"
if [ -n "$pinned" ] && [ "$pinned" != "$actual" ]; then
  echo "$dest/model.safetensors: SHA-256 $actual differs from weights/SHA256SUMS ($pinned)" >&2
  exit 1
fi
[ -n "$pinned" ] || echo "note: add '$actual  $name/model.safetensors' to weights/SHA256SUMS to pin it"
echo "ok: $dest (sha256 $actual)"
if command -v dotnet >/dev/null; then
  dotnet run -c Release --project "$here/../src/Engine.Cli" -- info --model "$dest"
fi
