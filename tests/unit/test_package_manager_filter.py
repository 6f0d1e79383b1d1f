import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.filter.package_manager import FilterModule

package_manager = FilterModule().filters()["package_manager"]

HEX = "0a1b2c3d4e5f" * 10


@pytest.mark.parametrize("field, expected", [
    ("pnpm@10.6.5", {"name": "pnpm", "version": "10.6.5", "hash": None}),
    ("pnpm@10.6.5+sha512." + HEX, {"name": "pnpm", "version": "10.6.5", "hash": "sha512." + HEX}),
    ("pnpm@9.0.0-rc.1", {"name": "pnpm", "version": "9.0.0-rc.1", "hash": None}),
    (" yarn@4.5.1 ", {"name": "yarn", "version": "4.5.1", "hash": None}),
])
def test_fields_are_split_into_name_version_and_hash(field, expected):
    assert package_manager(field) == expected


@pytest.mark.parametrize("field, words", [
    (None, ["no packageManager field", '"packageManager": "pnpm@10.6.5"']),
    ("", ["no packageManager field"]),
    ("pnpm@^10.6.0", ["'pnpm@^10.6.0'", "exact version"]),
    ("pnpm@10", ["'pnpm@10'", "exact version"]),
    ("pnpm", ["'pnpm'", "NAME@VERSION"]),
    ("pnpm@10.6.5+sha512", ["'pnpm@10.6.5+sha512'"]),
    ("pnpm@https://example.invalid/pnpm.tgz", ["exact version"]),
    (10, ["must be a string", "10"]),
])
def test_malformed_fields_are_refused_naming_what_was_found(field, words):
    with pytest.raises(AnsibleFilterError) as caught:
        package_manager(field)
    for word in words:
        assert word in str(caught.value)


def test_another_package_manager_than_expected_is_refused():
    assert package_manager("pnpm@10.6.5", "pnpm")["version"] == "10.6.5"
    with pytest.raises(AnsibleFilterError) as caught:
        package_manager("yarn@4.5.1", "pnpm")
    assert "names yarn" in str(caught.value) and "pnpm@VERSION" in str(caught.value)
