#!/usr/bin/env bash
# ansible-test sanity on a copy of the checkout placed at ansible_collections/bytelyst/deploy
# (ansible-test insists on that layout). Extra arguments go to ansible-test.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
# One copy, refreshed each run and kept between runs: ansible-test keeps its delegation
# virtual environment under the copy's tests/output (~11 CPU-seconds to make afresh). Keyed on
# the ansible-core version, whose ansible-test made it; runs at once take turns (a lock).
version=$(python -c 'import ansible; print(ansible.__version__)')
work="$BYTELYST_DEV_HOME/sanity/copy-$version"
dest="$work/ansible_collections/bytelyst/deploy"
mkdir -p "$dest"
exec 9>"$work.lock"
flock 9
# Everything but git's data and ansible-test's output goes; then tracked files plus new ones
# not ignored come in: exactly what a commit would hold.
find "$dest" -mindepth 1 -maxdepth 1 ! -name .git ! -name tests -exec rm -rf {} +
[ ! -d "$dest/tests" ] || find "$dest/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
(cd "$BYTELYST_REPO" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf -) | tar -C "$dest" -xf -
cd "$dest"
# ansible-test makes its virtual environments from the interpreter it runs on and keeps them;
# drop the ones another interpreter made (the venv's base changed), so they are made afresh.
base_bin=$(python -c 'import os, sys; print(os.path.dirname(os.path.realpath(getattr(sys, "_base_executable", sys.executable))))')
for cfg in ~/.ansible/test/venv/*/*/*/pyvenv.cfg tests/output/.tmp/delegation/*/pyvenv.cfg; do
  if [ -f "$cfg" ] && ! grep -qxF "home = $base_bin" "$cfg"; then rm -rf "$(dirname "$cfg")"; fi
done
# ansible-test bootstraps pip in its venvs with a script it downloads; use our offline one.
pip_version=$(python -c 'import re,ansible_test,os;p=os.path.join(os.path.dirname(ansible_test.__file__),"_internal","python_requirements.py");print(re.search(r"PIP_VERSION\s*=\s*.([0-9.]+)",open(p).read()).group(1))' 2>/dev/null || echo 24.2)
mkdir -p ~/.ansible/test/cache
cp "$BYTELYST_REPO/scripts/lib/get_pip_offline.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
[ -d .git ] || git init -q
git add -A >/dev/null 2>&1
git -c user.email=ci@bytelyst.invalid -c user.name=ci commit -q --allow-empty -m sanity >/dev/null
ansible-test sanity --venv --python 3.11 --color no "$@"
