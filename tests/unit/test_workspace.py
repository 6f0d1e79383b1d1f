import json

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _workspace as ws
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


def make_workspace(root, packages, globs=("packages/*",)):
    """packages: {dir: package.json dict or raw text}."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pnpm-workspace.yaml").write_text("packages:\n" + "".join('  - "%s"\n' % g for g in globs))
    for rel, data in packages.items():
        (root / rel).mkdir(parents=True, exist_ok=True)
        text = data if isinstance(data, str) else json.dumps(data)
        (root / rel / "package.json").write_text(text)
    return root


def pkg(name, version="1.0.0", **fields):
    data = {"name": name, "version": version}
    data.update(fields)
    return data


@pytest.mark.parametrize("pattern,path,matches", [
    ("packages/*", "packages/config", True),
    ("packages/*", "packages/config/nested", False),
    ("./packages/*", "packages/config", True),
    ("packages/**", "packages/a/b", True),
    ("**/libs/*", "x/y/libs/z", True),
    ("**/libs/*", "libs/z", True),
    ("apps/web?", "apps/web1", True),
    ("apps/web?", "apps/web12", False),
    ("packages/*/", "packages/a", True),
])
def test_glob_regex(pattern, path, matches):
    assert bool(ws.glob_regex(pattern).match(path)) is matches


def test_package_dirs_follow_globs_exclusions_and_skip_node_modules(tmp_path):
    root = make_workspace(tmp_path / "w", {
        "packages/a": pkg("@s/a"), "packages/b": pkg("@s/b"), "packages/b/node_modules/x": pkg("x"),
        "packages/legacy": pkg("@s/legacy"), "tools/gen": pkg("gen"), "packages/nodir": pkg("@s/nodir"),
    }, globs=("packages/*", "!packages/legacy", "tools/*"))
    (root / "packages" / "nodir" / "package.json").unlink()
    assert ws.package_dirs(str(root), ws.workspace_globs(str(root))) == ["packages/a", "packages/b", "tools/gen"]


def test_discover_reads_packages(tmp_path):
    root = make_workspace(tmp_path / "w", {"packages/a": pkg("@s/a", "2.1.0", bytelyst={"kinds": ["web"]})})
    space = ws.discover(str(root))
    assert list(space.packages) == ["@s/a"]
    a = space.packages["@s/a"]
    assert (a.version, a.rel_dir, a.kinds) == ("2.1.0", "packages/a", ["web"])
    assert a.dir == str(root / "packages" / "a")


def test_kinds_default_to_both(tmp_path):
    root = make_workspace(tmp_path / "w", {"packages/a": pkg("@s/a")})
    assert ws.discover(str(root)).packages["@s/a"].kinds == ["backend", "web"]


def test_the_deprecated_targets_field_is_read_when_kinds_is_absent(tmp_path):
    root = make_workspace(tmp_path / "w", {
        "packages/a": pkg("@s/a", bytelyst={"targets": ["web"]}),
        "packages/b": pkg("@s/b", bytelyst={"kinds": ["backend"], "targets": ["web"]}),
    })
    space = ws.discover(str(root))
    assert (space.packages["@s/a"].kinds, space.packages["@s/a"].kinds_field) == (["web"], "targets")
    assert (space.packages["@s/b"].kinds, space.packages["@s/b"].kinds_field) == (["backend"], "kinds")


def test_kinds_and_targets_that_disagree_are_refused(tmp_path):
    root = make_workspace(tmp_path / "w", {"packages/a": pkg("@s/a", bytelyst={"kinds": ["backend"], "targets": ["web"]})})
    space = ws.discover(str(root))
    with pytest.raises(DeployError) as info:
        ws.validate(space, ["@s/a"])
    assert "@s/a" in str(info.value) and "bytelyst.kinds is ['backend'] but bytelyst.targets is ['web']" in str(info.value)
    assert "Keep bytelyst.kinds only" in info.value.hint


def test_an_unknown_kind_names_the_field_it_is_in(tmp_path):
    for field in ("kinds", "targets"):
        root = make_workspace(tmp_path / field, {"packages/a": pkg("@s/a", bytelyst={field: ["mobile"]})})
        with pytest.raises(DeployError) as info:
            ws.validate(ws.discover(str(root)), ["@s/a"])
        assert "bytelyst.%s has mobile; allowed: backend, web" % field in str(info.value)


def test_no_workspace_file(tmp_path):
    with pytest.raises(DeployError) as info:
        ws.discover(str(tmp_path))
    assert "has no pnpm-workspace.yaml" in str(info.value)


def test_workspace_file_without_globs(tmp_path):
    (tmp_path / "pnpm-workspace.yaml").write_text("catalog: {}\n")
    with pytest.raises(DeployError) as info:
        ws.discover(str(tmp_path))
    assert "lists no packages globs" in str(info.value)


def test_package_json_not_json(tmp_path):
    root = make_workspace(tmp_path / "w", {"packages/a": "{ not json"})
    with pytest.raises(DeployError) as info:
        ws.discover(str(root))
    assert "packages/a/package.json is not valid JSON" in str(info.value)


def test_package_without_name(tmp_path):
    root = make_workspace(tmp_path / "w", {"packages/a": {"version": "1.0.0"}})
    with pytest.raises(DeployError) as info:
        ws.discover(str(root))
    assert 'has no "name"' in str(info.value)


def test_two_packages_with_one_name(tmp_path):
    root = make_workspace(tmp_path / "w", {"packages/a": pkg("@s/same"), "packages/b": pkg("@s/same")})
    with pytest.raises(DeployError) as info:
        ws.discover(str(root))
    assert "Two workspace packages are named @s/same: packages/a and packages/b" in str(info.value)


def test_validate_missing_version_unknown_target_unknown_workspace_dep(tmp_path):
    root = make_workspace(tmp_path / "w", {
        "packages/a": {"name": "@s/a"},
        "packages/b": pkg("@s/b", bytelyst={"targets": ["mobile"]}),
        "packages/c": pkg("@s/c", dependencies={"@s/ghost": "workspace:^"}),
    })
    space = ws.discover(str(root))
    with pytest.raises(DeployError, match='@s/a .* has no "version"'):
        ws.validate(space, ["@s/a"])
    with pytest.raises(DeployError, match="bytelyst.targets has mobile"):
        ws.validate(space, ["@s/b"])
    with pytest.raises(DeployError, match="@s/c depends on @s/ghost through workspace:\\^"):
        ws.validate(space, ["@s/c"])


def test_select_any_scope_and_dependency_closure(tmp_path):
    root = make_workspace(tmp_path / "w", {
        "packages/base": pkg("@core/base"),
        "packages/ui": pkg("@acme/ui", dependencies={"@core/base": "workspace:*", "react": "^19"}),
        "packages/other": pkg("@acme-other/x"),
    })
    space = ws.discover(str(root))
    assert ws.select(space, "@acme/*") == ["@acme/ui", "@core/base"]
    assert ws.select(space, "@acme-other/*") == ["@acme-other/x"]
    with pytest.raises(DeployError) as info:
        ws.select(space, "@bytelyst/*")
    assert "The filter '@bytelyst/*' matches none of the 3 workspace packages" in str(info.value)


def test_topological_order_is_dependencies_first_and_stable():
    edges = {"d": ["b", "c"], "b": ["a"], "c": ["a"], "a": [], "e": []}
    assert ws.topological_order(list(edges), edges) == ["a", "b", "c", "d", "e"]


def test_topological_order_ignores_edges_outside_names():
    assert ws.topological_order(["b"], {"b": ["a"]}) == ["b"]


def test_cycle_is_reported_with_its_path():
    edges = {"a": ["b"], "b": ["c"], "c": ["a"], "x": []}
    with pytest.raises(DeployError) as info:
        ws.topological_order(list(edges), edges)
    assert "cycle: a -> b -> c -> a" in str(info.value)
    assert info.value.details["cycle"] == ["a", "b", "c", "a"]


def test_graph_and_dependents(tmp_path):
    root = make_workspace(tmp_path / "w", {
        "packages/errors": pkg("@b/errors"),
        "packages/logger": pkg("@b/logger", devDependencies={"@b/errors": "workspace:*"}),
        "packages/http": pkg("@b/http", dependencies={"@b/logger": "workspace:^", "zod": "^3"}),
        "packages/ui": pkg("@b/ui", peerDependencies={"react": "^19"}),
    })
    space = ws.discover(str(root))
    edges = ws.graph(space, sorted(space.packages))
    assert edges == {"@b/errors": [], "@b/logger": ["@b/errors"], "@b/http": ["@b/logger"], "@b/ui": []}
    assert ws.dependents(edges, ["@b/errors"]) == {"@b/errors", "@b/logger", "@b/http"}
    assert ws.dependents(edges, ["@b/http"]) == {"@b/http"}


def test_split_dependencies(tmp_path):
    root = make_workspace(tmp_path / "w", {
        "packages/a": pkg("@b/a"),
        "packages/b": pkg("@b/b", dependencies={"@b/a": "workspace:^", "zod": "^3"},
                          optionalDependencies={"fsevents": "^2"}, peerDependencies={"react": "^19"},
                          devDependencies={"typescript": "5.9.3"}),
    })
    space = ws.discover(str(root))
    assert ws.split_dependencies(space, space.packages["@b/b"]) == {
        "dependencies": {"internal": {"@b/a": "workspace:^"}, "external": {"zod": "^3", "fsevents": "^2"}},
        "peer_dependencies": {"react": "^19"},
        "dev_dependencies": {"typescript": "5.9.3"},
    }


def test_kinds_as_a_single_string(tmp_path):
    root = make_workspace(tmp_path / "w", {"packages/a": pkg("@s/a", bytelyst={"kinds": "web"})})
    assert ws.discover(str(root)).packages["@s/a"].kinds == ["web"]
