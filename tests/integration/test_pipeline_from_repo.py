"""The main job started from a repository URL and a ref instead of a workspace already on the host:
ansible-playbook playbooks/pipeline.yml -e bytelyst_repo_url=file://... -e bytelyst_repo_ref=v1.0.0.

The monorepo is a bare git repository made here from the sample's layout as a team would commit it:
the shared packages' pnpm workspace at its root (examples/common_plat) and the products under
products/ (examples/products). It has a tag v1.0.0 and, after it on main, a commit that gives clock's
backend another version (what its /health reports and its image tag). The job checks it out at the
tag (role build_host: Node.js is the dev stack's, pnpm the workspace's packageManager version, linked
from the dev stack's copy so nothing is downloaded), installs it, and builds, pushes and deploys
clock's backend from that checkout: bytelyst_workspace and bytelyst_products_root both follow it.
Then the same run again (changes nothing), then a ref the repository does not have (refused by name
before anything is built).

Real git, ansible-playbook, engine, BuildKit, pnpm, loopback registry and Compose. Each run has its
own registry namespace, Compose project prefix and host ports; its images are labelled
dev.bytelyst.test=1 and removed, the deployed project taken down, at the end.
"""

import json
import os
import shutil
import subprocess
import uuid

import pytest

from engine_listing import remove_tags_under, tags_under
from awx_fixtures import compose_down, free_port_block
import playbook_runs
from playbook_runs import Run, playbook, recap
import registry_fixtures

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PORT = 4017  # clock's backend host_port in the role's defaults
# The sample's clock backend is 0.9.2: the tag and main each have a version of their own.
SAMPLE_VERSION, TAG_VERSION, MAIN_VERSION = "0.9.2", "1.0.0", "1.1.0"
IGNORE = shutil.ignore_patterns("node_modules", "dist", "vendor", "*.tgz", "*.tsbuildinfo", ".next")


def git(*argv, **kwargs):
    return subprocess.run(["git", "-c", "user.name=bytelyst test", "-c", "user.email=test@bytelyst.invalid",
                           "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false"] + list(argv),
                          check=True, capture_output=True, text=True, **kwargs).stdout.strip()


def make_monorepo(work):
    """A bare repository (returned: its file:// URL) with v1.0.0 and a later commit on main."""
    tree = os.path.join(work, "monorepo-work")
    shutil.copytree(os.path.join(REPO, "examples", "common_plat"), tree, ignore=IGNORE)
    shutil.copytree(os.path.join(REPO, "examples", "products"), os.path.join(tree, "products"), ignore=IGNORE)
    git("init", "-q", tree)
    set_clock_backend_version(tree, TAG_VERSION)
    git("add", "-A", cwd=tree)
    git("commit", "-q", "-m", "The shared packages and the products", cwd=tree)
    git("tag", "-a", "v1.0.0", "-m", "Release 1.0.0", cwd=tree)
    set_clock_backend_version(tree, MAIN_VERSION)
    git("commit", "-q", "-am", "clock backend %s" % MAIN_VERSION, cwd=tree)
    bare = os.path.join(work, "monorepo.git")
    git("clone", "-q", "--bare", tree, bare)
    return "file://" + bare


def set_clock_backend_version(tree, version):
    manifest = os.path.join(tree, "products", "clock", "backend", "package.json")
    with open(manifest) as handle:
        package = json.load(handle)
    package["version"] = version
    with open(manifest, "w") as handle:
        json.dump(package, handle, indent=2)
        handle.write("\n")


def pipeline(state, **extra):
    """ansible-playbook -i playbooks/inventory/local.yml playbooks/pipeline.yml -e @extravars."""
    extravars = dict(state.extravars, **extra)
    ref = extravars.pop("ref")
    return playbook(state, ["-i", os.path.join(REPO, "playbooks", "inventory", "local.yml"),
                            os.path.join(REPO, "playbooks", "pipeline.yml"),
                            "-e", "bytelyst_repo_url=" + state.url, "-e", "bytelyst_repo_ref=" + ref],
                    extravars, timeout=900)


def changed_tasks(done):
    """The names of the tasks that reported changed, in the order they ran."""
    return [name for name, seen in task_outcomes(done).items() if "changed" in seen]


def task_outcomes(done):
    """{task name: the set of outcomes it printed (ok, changed, skipping ...)} from the default callback."""
    outcomes, task = {}, None
    for line in done.stdout.splitlines():
        if line.startswith("TASK ["):
            task = line[len("TASK ["):line.rindex("]")]
            outcomes.setdefault(task, set())
        elif task is not None and line.split(":", 1)[0] in ("ok", "changed", "skipping", "failed", "fatal"):
            outcomes[task].add(line.split(":", 1)[0])
    return outcomes


def outcomes_of(done, suffix):
    found = [o for name, o in task_outcomes(done).items() if name.endswith(suffix)]
    assert found, (suffix, sorted(task_outcomes(done)))
    return set().union(*found)


def deployed(state):
    """What answers on the deploy host now: the health body and the image of clock's container."""
    return playbook_runs.deployed(state, "clock", PORT)


@pytest.fixture(scope="module")
def from_repo(tmp_path_factory, docker_client, registry_addr, standin_image):
    """The job from the repository at v1.0.0, the same again, then at v9.9.9; what each left."""
    state = Run(docker_client, str(tmp_path_factory.mktemp("pipeline-from-repo")))
    state.url = make_monorepo(state.work)
    state.bare = state.url[len("file://"):]
    state.dest = os.path.join(state.work, "checkout")
    # The dev stack's pnpm as the role's copy of the packageManager version: the role finds it and
    # only links it (test_host_roles downloads one from the npm registry).
    tools = os.path.join(state.work, "tools")
    os.makedirs(os.path.join(tools, "pnpm"))
    pnpm_package = os.path.join(os.environ["BYTELYST_DEV_HOME"], "node", "node_modules", "pnpm")
    with open(os.path.join(REPO, "examples", "common_plat", "package.json")) as handle:
        pnpm_version = json.load(handle)["packageManager"].split("@", 1)[1]
    os.symlink(pnpm_package, os.path.join(tools, "pnpm", pnpm_version))
    run = uuid.uuid4().hex[:8]
    state.namespace = "bytelyst-test/from-repo-%s" % run
    state.registry = "%s/%s" % (registry_addr, state.namespace)
    state.registry_url = "http://" + registry_addr
    ca_bundle = os.environ.get("BYTELYST_CA_BUNDLE", "")
    state.extravars = {
        "bytelyst_repo_dest": state.dest,
        "bytelyst_registry": state.registry,
        "bytelyst_runtime_image": standin_image,
        "bytelyst_image_labels": {"dev.bytelyst.test": "1"},
        "bytelyst_project_prefix": "bytelyst-from-repo-%s-" % run,
        # below the kernel's ephemeral ports (32768 and up), which any outgoing connection may take
        "bytelyst_port_offset": free_port_block(1, start=20000, stop=32000) - PORT,
        "bytelyst_tarball_dir": os.path.join(state.work, "tarballs"),
        "bytelyst_deploy_root": os.path.join(state.work, "deploy"),
        "bytelyst_build_log_dir": os.path.join(state.work, "builds"),
        "bytelyst_ca_bundle": ca_bundle,
        "bytelyst_async_timeout": 0,
        # One product, its backend only: the backend and dev bases.
        "bytelyst_selected_products": ["clock"],
        "bytelyst_products": {"clock": {"services": {"backend": {
            "kind": "backend", "port": 4017, "host_port": PORT, "health_path": "/health"}}}},
        "bytelyst_base_kinds": ["backend", "dev"],
        # The role's Node.js is the dev stack's (on PATH), its pnpm the one linked above.
        "build_host_node_method": "none",
        "build_host_tools_root": tools,
        "build_host_bin_dir": os.path.join(tools, "bin"),
        "build_host_environment": {"NODE_EXTRA_CA_CERTS": ca_bundle} if ca_bundle else {},
    }
    try:
        for ref in ("v1.0.0", "v1.0.0"):
            done = pipeline(state, ref=ref)
            assert done.returncode == 0, (done.stdout[-6000:] + done.stderr[-3000:])
            state.after.append(deployed(state))
        state.head_before_bad = git("-C", state.dest, "rev-parse", "HEAD")
        state.tags_before_bad = tags_under(docker_client, state.registry + "/")
        # The wrong ref: paths of its own for what a run would write, the same checkout and namespace.
        state.bad_paths = dict((key, os.path.join(state.work, "bad", key)) for key in (
            "bytelyst_tarball_dir", "bytelyst_deploy_root", "bytelyst_build_log_dir"))
        state.bad = pipeline(state, ref="v9.9.9", **state.bad_paths)
        state.after.append(deployed(state))
        yield state
    finally:
        compose_down(state.extravars["bytelyst_project_prefix"] + "clock",
                     os.path.join(state.extravars["bytelyst_deploy_root"], "clock"))
        remove_tags_under(docker_client, state.registry + "/")
        for repository in ("clock-backend", "bytelyst-common-base-backend", "bytelyst-common-base-dev"):
            registry_fixtures.delete_repository(state.registry_url, "%s/%s" % (state.namespace, repository))


def test_the_checkout_is_at_the_tags_commit(from_repo):
    tagged = git("-C", from_repo.bare, "rev-parse", "v1.0.0^{commit}")
    assert git("-C", from_repo.bare, "rev-parse", "main") != tagged
    assert git("-C", from_repo.dest, "rev-parse", "HEAD") == tagged
    # and the job said so, from the checkout the role made
    assert "Check out the monorepo at the requested version" in from_repo.runs[0].stdout


def test_the_product_is_built_and_deployed_from_the_tag_not_from_main(from_repo):
    after = from_repo.after[0]
    assert after["status"] == 200, after
    assert after["health"]["service"] == "clock-backend"
    assert after["health"]["version"] == TAG_VERSION
    tags = tags_under(from_repo.client, from_repo.registry + "/")
    assert "%s/clock-backend:%s" % (from_repo.registry, TAG_VERSION) in tags, sorted(tags)
    assert not [tag for tag in tags if tag.endswith(":" + MAIN_VERSION)], sorted(tags)
    # its version and the short sha of the last commit of its directory: the tag's, not main's
    tagged = git("-C", from_repo.bare, "rev-parse", "v1.0.0^{commit}")
    # (the registry lists tags sorted: a short sha may come before or after the version)
    listed = registry_fixtures.tag_list(from_repo.registry_url, from_repo.namespace + "/clock-backend")
    assert TAG_VERSION in listed and len(listed) == 2, listed
    (sha,) = [tag for tag in listed if tag != TAG_VERSION]
    assert len(sha) >= 7 and tagged.startswith(sha), (listed, tagged)
    # by the digest the registry holds
    digest = registry_fixtures.tag_digest(from_repo.registry_url, from_repo.namespace + "/clock-backend", TAG_VERSION)
    assert [image for dummy, image in after["containers"]] == ["%s/clock-backend@%s" % (from_repo.registry, digest)]
    # the product came from the checkout's products/, not the collection's sample (SAMPLE_VERSION);
    # the shared packages were installed and built in the checkout
    assert not [tag for tag in tags if tag.endswith(":" + SAMPLE_VERSION)], sorted(tags)
    assert os.path.isdir(os.path.join(from_repo.dest, "node_modules", ".pnpm"))
    assert os.path.isfile(os.path.join(from_repo.dest, "packages", "http", "dist", "index.js"))


def test_the_second_run_changes_nothing(from_repo):
    again = from_repo.runs[1]
    assert recap(from_repo.runs[0])["changed"] > 0
    assert recap(again)["failed"] == 0
    assert changed_tasks(again) == [] and recap(again)["changed"] == 0, changed_tasks(again)
    # the same container goes on answering: nothing was recreated
    assert from_repo.after[1] == from_repo.after[0]
    # The long steps run as async (polled) tasks only where the check in check mode found work: the
    # first run built, the second skipped every one of them, so it waited for no poll interval.
    for long_step in ("Build and pack the workspace packages that changed", "Build, verify and tag the base images",
                      "Build the images of clock"):
        assert "changed" in outcomes_of(from_repo.runs[0], long_step), long_step
        assert outcomes_of(again, long_step) == {"skipping"}, long_step


def test_a_ref_the_repository_lacks_is_refused_by_name_before_anything_is_built(from_repo):
    bad = from_repo.bad
    out = bad.stdout + bad.stderr
    assert bad.returncode != 0, out[-3000:]
    assert "build_host_repo_version v9.9.9 could not be checked out from %s" % from_repo.url in out, out[-3000:]
    assert "git ls-remote %s" % from_repo.url in out
    # before the bases, the products and the deploy
    for task in ("Pack the shared packages", "Build and verify the base images", "Build the images of"):
        assert task not in out
    assert recap(bad)["changed"] == 0 and recap(bad)["failed"] == 1
    # nothing written, built, tagged or recreated; the checkout stays at the tag
    for path in from_repo.bad_paths.values():
        assert not os.path.exists(path), path
    assert tags_under(from_repo.client, from_repo.registry + "/") == from_repo.tags_before_bad
    assert git("-C", from_repo.dest, "rev-parse", "HEAD") == from_repo.head_before_bad
    assert git("-C", from_repo.dest, "status", "--porcelain", "--untracked-files=no") == ""
    assert from_repo.after[2] == from_repo.after[0]
