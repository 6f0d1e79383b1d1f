import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.filter.build_hosts import FilterModule

filters = FilterModule().filters()
build_assignment = filters["build_assignment"]
built_images = filters["built_images"]


def test_one_build_host_builds_everything():
    assert build_assignment(["notes", "clock"], ["build1"]) == {"clock": "build1", "notes": "build1"}


def test_products_go_round_robin_in_sorted_order_whatever_order_they_are_given_in():
    hosts = ["build1", "build2"]
    expected = {"clock": "build1", "notes": "build2", "trading": "build1"}
    assert build_assignment(["trading", "notes", "clock"], hosts) == expected
    assert build_assignment(["clock", "notes", "trading", "notes"], hosts) == expected
    # Host order is the inventory's: the first build host (which builds the bases) comes first.
    assert build_assignment(["clock", "notes", "trading"], ["build2", "build1"]) == {
        "clock": "build2", "notes": "build1", "trading": "build2"}


def test_more_hosts_than_products_leaves_the_last_hosts_idle():
    assert build_assignment(["notes"], ["a", "b", "c"]) == {"notes": "a"}


def test_no_build_host_assigns_nothing():
    # Plays that only deploy or report: their deploys then say no build host built the product.
    assert build_assignment(["notes", "clock"], []) == {}
    with pytest.raises(AnsibleFilterError) as caught:
        built_images([], "notes", [])
    assert "there is no build host" in str(caught.value)


def test_overrides_place_their_products_first_and_the_rest_fill_the_least_loaded_hosts():
    products = ["alpha", "beta", "clock", "notes"]
    assigned = build_assignment(products, ["a", "b"], {"alpha": "a", "beta": "a"})
    assert assigned == {"alpha": "a", "beta": "a", "clock": "b", "notes": "b"}
    # An override of a product this run does not build changes nothing.
    assert build_assignment(["clock"], ["a", "b"], {"notes": "b"}) == {"clock": "a"}


@pytest.mark.parametrize("products, hosts, overrides, words", [
    (["notes"], ["a", "b"], {"notes": "c"}, ["notes", "'c'", "not in the build_host group (a, b)"]),
    ("notes", ["a"], None, ["products must be a list", "'notes'"]),
    (["notes"], ["a"], ["notes"], ["bytelyst_build_hosts must map", "['notes']"]),
    (["notes", 3], ["a"], None, ["products must be a list of names", "3"]),
])
def test_bad_inputs_are_refused_naming_what_was_found(products, hosts, overrides, words):
    with pytest.raises(AnsibleFilterError) as caught:
        build_assignment(products, hosts, overrides)
    for word in words:
        assert word in str(caught.value)


def test_the_images_come_from_the_host_that_built_the_product():
    notes = {"backend": {"tags": ["r/notes-backend:1.0.0"]}}
    clock = {"backend": {"tags": ["r/clock-backend:1.0.0"]}}
    records = [{"clock": clock}, {"notes": notes}]
    assert built_images(records, "notes", ["build1", "build2"]) is notes
    assert built_images(records, "clock", ["build1", "build2"]) is clock


def test_a_product_nobody_built_names_what_each_host_built():
    with pytest.raises(AnsibleFilterError) as caught:
        built_images([{"clock": {}, "trading": {}}, {}], "notes", ["build1", "build2"])
    message = str(caught.value)
    assert "no build host built the images of notes" in message
    assert "build1 built clock, trading" in message and "build2 built nothing" in message


def test_records_must_match_the_hosts():
    with pytest.raises(AnsibleFilterError) as caught:
        built_images([{}], "notes", ["build1", "build2"])
    assert "one record of built images per build host (2)" in str(caught.value)
