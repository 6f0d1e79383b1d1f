#!/usr/bin/env bash
# ansible-test sanity on a copy of the checkout placed at ansible_collections/bytelyst/deploy
# (ansible-test insists on that layout). Extra arguments go to ansible-test.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
# A private copy per run, so several runs at once do not clobber each other.
mkdir -p "$BYTELYST_DEV_HOME/sanity"
work=$(mktemp -d "$BYTELYST_DEV_HOME/sanity/run.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest="$work/ansible_collections/bytelyst/deploy"
mkdir -p "$dest"
# Tracked files plus new ones not ignored: exactly what a commit would hold.
(cd "$BYTELYST_REPO" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -C "$dest" -xf -
cd "$dest"
# ansible-test bootstraps pip in its venvs with a script it downloads; use our offline one.
pip_version=$(python -c 'import re,ansible_test,os;p=os.path.join(os.path.dirname(ansible_test.__file__),"_internal","python_requirements.py");print(re.search(r"PIP_VERSION\s*=\s*.([0-9.]+)",open(p).read()).group(1))' 2>/dev/null || echo 24.2)
mkdir -p ~/.ansible/test/cache
cp "$BYTELYST_REPO/scripts/lib/get_pip_offline.py" ~/.ansible/test/cache/get_pip_${pip_version//./_}.py
git init -q && git add -A >/dev/null 2>&1 && git -c user.email=ci@bytelyst.invalid -c user.name=ci commit -qm sanity >/dev/null
ansible-test sanity --venv --python 3.11 --color no "$@"
