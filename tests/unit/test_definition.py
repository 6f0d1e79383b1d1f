"""The deploy role's compose definition, built as data (no engine)."""

import pytest
import yaml

from ansible_collections.bytelyst.deploy.plugins.module_utils._definition import (
    DefinitionError, product_services, render)
from ansible_collections.bytelyst.deploy.plugins.filter.definition import FilterModule

from ansible.errors import AnsibleFilterError


def web(**kw):
    return dict({"name": "web", "image": "r/notes/web:1.0.0"}, **kw)


def test_a_service_gets_the_hardening_defaults_and_the_restart_policy():
    plan = render([web(ports=["127.0.0.1:3016:3000"])])
    spec = plan["definition"]["services"]["web"]
    assert spec == {
        "image": "r/notes/web:1.0.0", "restart": "unless-stopped", "ports": ["127.0.0.1:3016:3000"],
        "cap_drop": ["ALL"], "security_opt": ["no-new-privileges:true"], "read_only": True, "tmpfs": ["/tmp"],
        "mem_limit": "1g", "pids_limit": 512,
    }
    assert plan["secrets"] == {} and plan["http_checks"] == []


def test_each_hardening_key_can_be_turned_off_or_changed_per_service_and_per_role():
    plan = render([web(cap_drop=[], security_opt=[], read_only=False, tmpfs=[], mem_limit="", pids_limit=0),
                   dict(web(name="api"), cap_add=["NET_BIND_SERVICE"])],
                  hardening={"mem_limit": "256m", "pids_limit": 64})
    assert plan["definition"]["services"]["web"] == {"image": "r/notes/web:1.0.0", "restart": "unless-stopped"}
    api = plan["definition"]["services"]["api"]
    assert (api["mem_limit"], api["pids_limit"], api["cap_add"]) == ("256m", 64, ["NET_BIND_SERVICE"])
    assert api["cap_drop"] == ["ALL"] and api["read_only"] is True


def test_the_default_tmpfs_comes_with_a_read_only_root_only():
    plan = render([web(read_only=False), web(name="own", read_only=False, tmpfs=["/cache"]),
                   web(name="ro")])
    services = plan["definition"]["services"]
    assert "tmpfs" not in services["web"] and "read_only" not in services["web"]
    assert services["own"]["tmpfs"] == ["/cache"] and services["ro"]["tmpfs"] == ["/tmp"]


@pytest.mark.parametrize("name", [
    "web\n    privileged: true",
    "web:\n  privileged: true\nx",
    "-web", "web app", "", None, "web/../x",
])
def test_a_service_name_outside_composes_rules_is_refused(name):
    with pytest.raises(DefinitionError) as err:
        render([web(name=name)])
    assert "is not a valid Compose service name" in str(err.value)
    assert "deploy_services[0].name" in str(err.value)


def test_a_newline_in_a_name_never_reaches_the_definition_through_the_filter():
    with pytest.raises(AnsibleFilterError) as err:
        FilterModule().filters()["compose_definition"]([web(name="web\nprivileged: true")])
    assert '"web\\nprivileged: true" is not a valid Compose service name' in str(err.value)


def test_values_are_data_a_value_cannot_add_keys():
    plan = render([web(environment={"MOTD": "hi\n    privileged: true", "PRICE": "$5 ${HOME}"},
                       command=["node", "x\nprivileged: true"])])
    spec = plan["definition"]["services"]["web"]
    text = yaml.safe_dump(plan["definition"])
    assert "privileged" not in yaml.safe_load(text)["services"]["web"]
    assert spec["environment"] == {"MOTD": "hi\n    privileged: true", "PRICE": "$$5 $${HOME}"}


def test_plain_environment_is_literal_and_stringified():
    plan = render([web(environment={"PORT": 4121, "DEBUG": False, "EMPTY": None, "WORD": "production",
                                    "EQ": "a=b c"})])
    assert plan["definition"]["services"]["web"]["environment"] == {
        "PORT": "4121", "DEBUG": "false", "EMPTY": "", "WORD": "production", "EQ": "a=b c"}


def test_secrets_become_references_and_their_values_go_to_secrets_only():
    plan = render([web(secrets={"DB_PASSWORD": "pa$$word"}), web(name="notes-api", secrets={"token": "t0k"})],
                  secrets={"OWN": "mine"})
    services = plan["definition"]["services"]
    assert services["web"]["environment"] == {"DB_PASSWORD": "${WEB__DB_PASSWORD}"}
    assert services["notes-api"]["environment"] == {"token": "${NOTES_API__TOKEN}"}
    assert plan["secrets"] == {"WEB__DB_PASSWORD": "pa$$word", "NOTES_API__TOKEN": "t0k", "OWN": "mine"}
    assert "pa$$word" not in yaml.safe_dump(plan["definition"]) and "t0k" not in yaml.safe_dump(plan["definition"])


def test_secret_variable_collisions_are_refused_without_showing_values():
    with pytest.raises(DefinitionError) as err:
        render([web(name="a-b", secrets={"K": "value-one"}), web(name="a_b", secrets={"K": "value-two"})])
    assert "A_B__K" in str(err.value) and "value-" not in str(err.value)
    with pytest.raises(DefinitionError) as err:
        render([web(secrets={"K": "v1"})], secrets={"WEB__K": "v2"})
    assert "deploy_secrets" in str(err.value)
    with pytest.raises(DefinitionError) as err:
        render([web(environment={"K": "plain"}, secrets={"K": "hidden-one"})])
    assert "both in environment and in secrets" in str(err.value) and "hidden-one" not in str(err.value)


@pytest.mark.parametrize("service, message", [
    (web(privileged=True), "unknown key(s) privileged"),
    (web(enviroment={}), "unknown key(s) enviroment"),
    (web(environment={"BAD-KEY": "x"}), '"BAD-KEY" is not a valid environment variable name'),
    (web(image=""), "service web has no image"),
    (web(ports="8080:80"), "service web.ports must be a list"),
    (web(volumes=["bad name:/data"]), '"bad name" is not a valid volume name'),
    (web(healthcheck={"tset": ["CMD", "true"]}), "service web.healthcheck has unknown key(s) tset"),
    (web(depends_on=["db"]), 'names "db", which is not one of the services'),
    (web(read_only="yes"), "read_only must be true or false"),
    (web(pids_limit=-1), "pids_limit must be a positive number"),
])
def test_bad_service_input_is_refused_with_a_clear_message(service, message):
    with pytest.raises(DefinitionError) as err:
        render([service])
    assert message in str(err.value)


def test_a_duplicate_name_is_refused():
    with pytest.raises(DefinitionError) as err:
        render([web(), web()])
    assert 'names the service "web" twice' in str(err.value)


def test_named_volumes_are_declared_bind_mounts_are_not():
    plan = render([web(volumes=["data:/data", "cache:/cache:ro", "/srv/x:/x", "./y:/y"])], volumes=["extra"])
    assert plan["definition"]["volumes"] == {"data": {}, "cache": {}, "extra": {}}
    assert plan["definition"]["services"]["web"]["volumes"] == ["data:/data", "cache:/cache:ro", "/srv/x:/x", "./y:/y"]


def test_depends_on_and_extra_services_and_http_checks():
    db = {"name": "db", "image": "postgres:16", "read_only": False, "cap_drop": [],
          "healthcheck": {"test": ["CMD", "pg_isready"], "interval": "2s"}, "volumes": ["pg:/var/lib/postgresql/data"]}
    plan = render([web(depends_on={"db": "service_healthy"}, health_url="http://127.0.0.1:3016/health",
                       health_timeout=5), db, web(name="worker", depends_on=["db"])])
    services = plan["definition"]["services"]
    assert services["web"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["worker"]["depends_on"] == {"db": {"condition": "service_started"}}
    assert services["db"]["healthcheck"] == {"test": ["CMD", "pg_isready"], "interval": "2s"}
    assert "read_only" not in services["db"] and "cap_drop" not in services["db"]
    assert plan["http_checks"] == [{"url": "http://127.0.0.1:3016/health", "status": 200, "timeout": 5}]


def products_entry():
    backend = {"kind": "backend", "port": 4016, "host_port": 4016, "health_path": "/health",
               "environment": {"LOG_LEVEL": "info"}, "secrets": {"DB_PASSWORD": "s"},
               "volumes": ["notes-data:/data"], "depends_on": {"db": "service_healthy"}, "mem_limit": "256m"}
    db = {"image": "postgres:16", "read_only": False, "volumes": ["notes-db:/var/lib/postgresql/data"]}
    return {"dir": "notes", "services": {"backend": backend}, "extra_services": {"db": db}}


def test_product_services_maps_a_bytelyst_products_entry():
    services = product_services(products_entry(), "notes", {"backend": "r/notes-backend:1.0.0"},
                                publish_address="0.0.0.0", port_offset=100, healthcheck={"interval": "3s"})
    backend, db = services
    assert backend["ports"] == ["0.0.0.0:4116:4016"]
    assert backend["health_url"] == "http://127.0.0.1:4116/health"
    assert backend["environment"] == {"PORT": 4016, "LOG_LEVEL": "info"}
    assert backend["healthcheck"] == {"interval": "3s"} and backend["mem_limit"] == "256m"
    assert db == {"name": "db", "image": "postgres:16", "read_only": False,
                  "volumes": ["notes-db:/var/lib/postgresql/data"]}
    plan = render(services)
    assert plan["definition"]["volumes"] == {"notes-data": {}, "notes-db": {}}
    assert plan["secrets"] == {"BACKEND__DB_PASSWORD": "s"}


@pytest.mark.parametrize("change, message", [
    (lambda p: p["services"]["backend"].update(helth_path="/x"), "services.backend has unknown key(s) helth_path"),
    (lambda p: p.update(extras={}), "bytelyst_products.notes has unknown key(s) extras"),
    (lambda p: p["services"]["backend"].update(host_port="4016"), "host_port must be a port number"),
    (lambda p: p["services"]["backend"].update(host_port=65500), "with bytelyst_port_offset 100 added"),
    (lambda p: p["extra_services"]["db"].update(privileged=True), "extra_services.db has unknown key(s) privileged"),
    (lambda p: p["extra_services"].update({"db\nprivileged: true": {"image": "x"}}), "not a valid Compose service name"),
    (lambda p: p["extra_services"].update(backend={"image": "x"}), "has the name of a built service"),
])
def test_product_services_refuses_typos_and_bad_names(change, message):
    product = products_entry()
    change(product)
    with pytest.raises(DefinitionError) as err:
        product_services(product, "notes", {"backend": "r/b:1"}, port_offset=100)
    assert message in str(err.value)


def test_product_services_takes_the_first_tag_of_a_build_result():
    services = product_services({"services": {"backend": {"kind": "backend", "port": 1, "host_port": 2}}},
                                "notes", {"backend": {"tags": ["r/b:1.0.0", "r/b:latest"], "image_id": "sha256:1"}})
    assert services[0]["image"] == "r/b:1.0.0" and services[0]["health_url"] == "http://127.0.0.1:2/health"


def test_product_services_needs_an_image_per_built_service():
    with pytest.raises(DefinitionError) as err:
        product_services(products_entry(), "notes", {"web": "r/w:1"})
    assert "services.backend has no built image (images were built for web)" in str(err.value)


def test_product_secrets_are_what_a_rollback_of_the_product_needs():
    product = {"services": {"web": {"kind": "web", "port": 3000, "host_port": 3016,
                                    "secrets": {"db_password": "pw-1"}}},
               "extra_services": {"db": {"image": "postgres:16", "secrets": {"POSTGRES_PASSWORD": "pw-2"}}}}
    product_secrets = FilterModule().filters()["product_secrets"]
    assert product_secrets(product, "notes") == {"WEB__DB_PASSWORD": "pw-1", "DB__POSTGRES_PASSWORD": "pw-2"}
    no_secrets = {"services": {"web": {"kind": "web", "port": 3000, "host_port": 3016}}}
    assert product_secrets(no_secrets, "clock") == {}
    bad_port = {"services": {"web": {"kind": "web", "port": 0, "host_port": 1}}}
    with pytest.raises(AnsibleFilterError, match=r"bytelyst_products.notes.services.web.port must be a port number"):
        product_secrets(bad_port, "notes")
