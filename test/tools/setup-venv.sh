#!/usr/bin/env bash
# Creates test/.venv with the live tests' Python tools (test/tools/python-requirements.txt, from
# PyPI); does nothing when the venv already has them. Run by .ci/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=test/.venv
requirements=test/tools/python-requirements.txt
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$stamp"; then exit 0; fi
echo "setup-venv: installing $(grep -v '^#' "$requirements" | xargs) into $venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
