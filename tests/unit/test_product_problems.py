"""bytelyst_products checked for unknown keys before anything is built (the product_problems filter)."""

import os
import re

import pytest
import yaml

from ansible_collections.bytelyst.deploy.plugins.module_utils._definition import (
    PRODUCT_KEYS, PRODUCT_SERVICE_KEYS, product_problems)
from ansible_collections.bytelyst.deploy.plugins.filter.definition import FilterModule

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def read(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return handle.read()


def notes(**service):
    backend = dict({"kind": "backend", "port": 4016, "host_port": 4016, "health_path": "/health"}, **service)
    return {"notes": {"dir": "notes", "services": {"backend": backend},
                      "extra_services": {"db": {"image": "postgres:16"}}}}


def test_the_roles_sample_products_and_a_full_entry_have_no_problems():
    sample = yaml.safe_load(read("roles", "bytelyst", "defaults", "main.yml"))["bytelyst_products"]
    assert sample and product_problems(sample) == []
    full = notes(environment={"ANY_NAME": "x"}, secrets={"db_password": "s"}, route={"hosts": ["a.example.com"]},
                 healthcheck={"interval": "3s"}, build_args={"NEXT_PUBLIC_X": "1"}, read_only=False)
    full["notes"].update(kind_dirs={"backend": "api"}, extra_dirs=["shared"], npm_registry="https://npm.example.test/")
    assert product_problems(full) == []


@pytest.mark.parametrize("change, where, key, closest", [
    (lambda p: p["services"]["backend"].update(helth_path="/x"), "bytelyst_products.notes.services.backend",
     "helth_path", "health_path"),
    (lambda p: p.update(servics={}), "bytelyst_products.notes", "servics", "services"),
    (lambda p: p["services"]["backend"].update(route={"path_prefx": "/api/"}),
     "bytelyst_products.notes.services.backend.route", "path_prefx", "path_prefix"),
    (lambda p: p["services"]["backend"].update(healthcheck={"intervall": "3s"}),
     "bytelyst_products.notes.services.backend.healthcheck", "intervall", "interval"),
    (lambda p: p["extra_services"]["db"].update(imgae="postgres:16"), "bytelyst_products.notes.extra_services.db",
     "imgae", "image"),
    (lambda p: p.update(os_package=["openssl"]), "bytelyst_products.notes", "os_package", "os_packages"),
])
def test_a_typo_is_named_with_the_closest_known_key_and_the_fix(change, where, key, closest):
    products = notes()
    change(products["notes"])
    (problem,) = product_problems(products)
    assert problem.startswith('%s has the unknown key "%s": did you mean %s? Rename it to %s.' % (
        where, key, closest, closest)), problem


def test_a_key_close_to_nothing_is_to_be_removed_and_every_problem_is_listed():
    products = notes(privileged=True)
    products["clock"] = {"services": {"web": {"kind": "web", "prot": 3000}}}
    problems = product_problems(products)
    assert len(problems) == 2, problems
    assert problems[0].startswith('bytelyst_products.clock.services.web has the unknown key "prot": did you mean port?')
    assert problems[1].startswith('bytelyst_products.notes.services.backend has the unknown key "privileged": '
                                  'no known key is close to it. Remove it')
    assert "the keys of a product service are kind, port, host_port, health_path" in problems[1]


@pytest.mark.parametrize("products, message", [
    ([], "bytelyst_products must be a mapping of product name to its entry, got list."),
    ({"notes": ["backend"]}, "bytelyst_products.notes must be a mapping (a product), got list."),
    ({"notes": {"services": ["backend"]}},
     "bytelyst_products.notes.services must be a mapping of service name to its settings, got list."),
    ({"notes": {"services": {"web": "web"}}},
     "bytelyst_products.notes.services.web must be a mapping (a product service), got str."),
])
def test_misshapen_entries_are_named(products, message):
    assert product_problems(products) == [message]


def test_every_key_the_build_playbook_reads_is_a_known_key():
    # What build_product.yml reads of a product (bytelyst_product_entry.X, bytelyst_products[...].X) and of a
    # service (item.value.X): a key it reads but the check refuses would fail every run that sets it.
    text = read("playbooks", "tasks", "build_product.yml")
    product = set(re.findall(r"bytelyst_product_entry\.(\w+)", text))
    product |= set(re.findall(r"bytelyst_products\[bytelyst_product\]\.(\w+)", text))
    service = set(re.findall(r"item\.value\.(\w+)", text))
    assert {"dir", "services", "kind_dirs", "npm_registry"} <= product and {"kind", "port", "health_path"} <= service
    assert product - set(PRODUCT_KEYS) == set() and service - set(PRODUCT_SERVICE_KEYS) == set()


def test_the_filter_returns_the_messages():
    check = FilterModule().filters()["product_problems"]
    assert check(notes()) == []
    assert check(notes(helth_path="/x"))[0].startswith("bytelyst_products.notes.services.backend has the unknown key")
