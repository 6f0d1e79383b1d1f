"""Stand-in for the pip bootstrap script ansible-test downloads from a host these
machines cannot reach. It does the same job from what is at hand: ensurepip, then
pip installs the requested packages from PyPI. setup.sh places it in ansible-test's
cache; nothing else uses it."""

import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
