# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The compose definition the deploy role hands to compose_deploy, built as data.
PRIVATE to the collection.

render() turns the role's service list into three things:
  definition   the compose mapping ({services, volumes}); compose_deploy writes it as YAML,
               so no name or value can add a key of its own (a service name holding a
               newline is refused here, and could not become YAML text anyway);
  secrets      {VARIABLE: value} for compose_deploy's `secrets` (written to its 0600 env
               file); the definition holds only `${VARIABLE}` references to them;
  http_checks  the gate's HTTP checks, one per service health_url.
Plain environment values are configuration and go into the definition literally ("$"
written "$$", so Compose does not interpolate them). Every service gets the hardening
defaults (no capabilities, no-new-privileges, read-only root with a tmpfs /tmp, memory and
pids limits) unless it turns one off.

product_services() maps one bytelyst_products entry (the playbooks' shape) onto that list.
Both refuse unknown keys, so a typo fails instead of being ignored, and raise
DefinitionError naming the input, what was found and what to write instead. Messages
never carry a secret's value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import json
import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._routes import ROUTE_KEYS

# Compose's rule for service names (its schema), and Docker's for volume names.
SERVICE_NAME = re.compile(r"\A[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
VOLUME_NAME = re.compile(r"\A[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")
ENV_KEY = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")

HARDENING_KEYS = ("cap_drop", "security_opt", "read_only", "tmpfs", "mem_limit", "pids_limit")
DEFAULT_HARDENING = {
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "read_only": True,
    "tmpfs": ["/tmp"],
    "mem_limit": "1g",
    "pids_limit": 512,
}

# Keys a service may carry; everything else is a typo or something the role does not render.
COMPOSE_KEYS = ("image", "command", "entrypoint", "user", "working_dir", "ports", "volumes", "restart",
                "healthcheck", "depends_on", "cap_add") + HARDENING_KEYS
SERVICE_KEYS = ("name", "environment", "secrets", "health_url", "health_status", "health_timeout") + COMPOSE_KEYS
HEALTHCHECK_KEYS = ("test", "interval", "timeout", "start_period", "start_interval", "retries", "disable")
DEPENDS_CONDITIONS = ("service_started", "service_healthy", "service_completed_successfully")
# Build settings (playbooks/tasks/build_product.yml passes them to product_image; a deploy ignores them).
PRODUCT_BUILD_KEYS = ("kind_dirs", "extra_dirs", "build_args", "os_packages", "build_os_packages", "npm_registry")
SERVICE_BUILD_KEYS = ("build_args", "os_packages", "build_os_packages")
PRODUCT_KEYS = ("dir", "services", "extra_services") + PRODUCT_BUILD_KEYS
# route: how the host's proxy routes to the service with bytelyst_deploy_strategy proxy (_routes.py).
PRODUCT_SERVICE_KEYS = ("kind", "port", "host_port", "health_path", "environment", "secrets", "volumes",
                        "depends_on", "healthcheck", "cap_add", "route") + HARDENING_KEYS + SERVICE_BUILD_KEYS
# An extra service (a database, a cache) is a deploy_services entry without its name.
EXTRA_SERVICE_KEYS = tuple(k for k in SERVICE_KEYS if k != "name")


class DefinitionError(ValueError):
    """An input the definition cannot be built from; the message says which and how to fix it."""


def shown(value):
    """A value as the message shows it: quoted, newlines visible."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def check_keys(where, data, allowed):
    if not isinstance(data, dict):
        raise DefinitionError("%s must be a mapping, got %s." % (where, type(data).__name__))
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise DefinitionError("%s has unknown key(s) %s; the keys it may have are %s." % (
            where, ", ".join(unknown), ", ".join(allowed)))


def check_service_name(where, name):
    if not isinstance(name, str) or not SERVICE_NAME.match(name):
        raise DefinitionError(
            "%s %s is not a valid Compose service name. Use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit (no spaces or newlines)." % (where, shown(name)))
    return name


def check_volume_name(where, name):
    if not isinstance(name, str) or not VOLUME_NAME.match(name):
        raise DefinitionError(
            "%s: %s is not a valid volume name. Use at least two letters, digits, '.', '_' and '-', "
            "starting with a letter or digit." % (where, shown(name)))
    return name


def check_env_key(where, key):
    if not isinstance(key, str) or not ENV_KEY.match(key):
        raise DefinitionError(
            "%s: %s is not a valid environment variable name. Use letters, digits and '_', not "
            "starting with a digit." % (where, shown(key)))
    return key


def plain_value(where, key, value):
    """An environment value as Compose must read it: a string, "$" escaped as "$$"."""
    if value is None:
        value = ""
    elif isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = str(value)
    elif not isinstance(value, str):
        raise DefinitionError("%s.%s must be a string or number, got %s." % (where, key, type(value).__name__))
    return value.replace("$", "$$")


def secret_variable(service, key):
    """The env-file variable holding a service's secret: NOTES-WEB + db_password -> NOTES_WEB__DB_PASSWORD."""
    return "%s__%s" % (re.sub(r"[^A-Z0-9]", "_", service.upper()), key.upper())


def string_list(where, value):
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise DefinitionError("%s must be a list, got %s." % (where, shown(value)))
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise DefinitionError("%s holds %s; each entry must be a string." % (where, shown(item)))
        out.append(str(item))
    return out


def named_volume(spec):
    """The volume name a short-syntax mount uses ('data:/data:ro' -> 'data'), or None for a bind mount."""
    if not isinstance(spec, str) or ":" not in spec:
        return None
    source = spec.split(":", 1)[0]
    if not source or source[0] in "/.~$" or "/" in source:
        return None
    return source


def depends_on(where, value, names):
    """depends_on as Compose's long form; a list means 'started', a mapping names the condition."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        value = dict((name, "service_started") for name in string_list(where, value))
    if not isinstance(value, dict):
        raise DefinitionError("%s must be a list of service names or a mapping of name to condition." % where)
    out = {}
    for name, condition in value.items():
        if isinstance(condition, dict):
            condition = condition.get("condition", "service_started")
        if name not in names:
            raise DefinitionError("%s names %s, which is not one of the services (%s)." % (
                where, shown(name), ", ".join(sorted(names))))
        if condition not in DEPENDS_CONDITIONS:
            raise DefinitionError("%s.%s: condition %s is not one of %s." % (
                where, name, shown(condition), ", ".join(DEPENDS_CONDITIONS)))
        out[name] = {"condition": condition}
    return out


def hardening_of(where, service, defaults):
    """The hardening keys of one service: its own value wins; empty, false or 0 turns one off.
    The default tmpfs comes with a read-only root only; a service's own tmpfs always applies."""
    out = {}
    read_only = service["read_only"] if "read_only" in service else defaults.get("read_only")
    for key in HARDENING_KEYS:
        value = service[key] if key in service else defaults.get(key)
        if key == "tmpfs" and key not in service and not read_only:
            continue  # the default tmpfs /tmp is the writable place of a read-only root; without one, no need
        if key in ("cap_drop", "security_opt", "tmpfs"):
            value = string_list("%s.%s" % (where, key), value)
            if value:
                out[key] = value
        elif key == "read_only":
            if not isinstance(value, bool) and value is not None:
                raise DefinitionError("%s.read_only must be true or false, got %s." % (where, shown(value)))
            if value:
                out[key] = True
        elif key == "mem_limit":
            if value in (None, "", 0):
                continue
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise DefinitionError("%s.mem_limit must be a size such as 512m, got %s." % (where, shown(value)))
            out[key] = value
        elif key == "pids_limit":
            if value in (None, "", 0):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DefinitionError("%s.pids_limit must be a positive number (0 turns it off), got %s." % (
                    where, shown(value)))
            out[key] = value
    return out


def render(services, volumes=None, restart="unless-stopped", hardening=None, secrets=None,
           health_status=200, health_timeout=30):
    """{definition, secrets, http_checks} from the role's deploy_services (see the module doc).

    volumes: extra named volumes to declare; secrets: values for ${NAME} of the caller's own
    (deploy_secrets), merged with the services' derived ones; hardening: the defaults every
    service starts from (DEFAULT_HARDENING when None)."""
    defaults = dict(DEFAULT_HARDENING)
    defaults.update(hardening or {})
    check_keys("hardening", defaults, HARDENING_KEYS)
    if not isinstance(services, (list, tuple)):
        raise DefinitionError("deploy_services must be a list of services, got %s." % type(services).__name__)
    names = []
    for index, service in enumerate(services):
        check_keys("deploy_services[%d]" % index, service, SERVICE_KEYS)
        name = check_service_name("deploy_services[%d].name" % index, service.get("name"))
        if name in names:
            raise DefinitionError("deploy_services names the service %s twice." % shown(name))
        names.append(name)
    all_secrets = {}
    for key in sorted(secrets or {}):
        all_secrets[check_env_key("deploy_secrets", key)] = str((secrets or {})[key])
    owners = dict((key, "deploy_secrets") for key in all_secrets)
    declared = {}
    for name in string_list("deploy_volumes", volumes):
        declared[check_volume_name("deploy_volumes", name)] = {}
    out, checks = {}, []
    for service in services:
        name = service["name"]
        where = "service %s" % name
        image = service.get("image")
        if not isinstance(image, str) or not image.strip():
            raise DefinitionError("%s has no image; give each service an image reference." % where)
        spec = {"image": image, "restart": service.get("restart") or restart}
        for key in ("command", "entrypoint", "user", "working_dir"):
            if service.get(key) not in (None, "", []):
                spec[key] = service[key]
        ports = string_list("%s.ports" % where, service.get("ports"))
        if ports:
            spec["ports"] = ports
        environment = {}
        plain = service.get("environment") or {}
        check_keys("%s.environment" % where, plain, list(plain))
        for key in sorted(plain):
            environment[check_env_key("%s.environment" % where, key)] = plain_value(
                "%s.environment" % where, key, plain[key])
        hidden = service.get("secrets") or {}
        if not isinstance(hidden, dict):
            raise DefinitionError("%s.secrets must be a mapping of variable name to value." % where)
        for key in sorted(hidden):
            check_env_key("%s.secrets" % where, key)
            if key in environment:
                raise DefinitionError("%s sets %s both in environment and in secrets; keep it in one." % (where, key))
            variable = secret_variable(name, key)
            if variable in owners:
                raise DefinitionError(
                    "%s.secrets.%s would be kept in the variable %s, which %s already uses; rename the "
                    "service or the key." % (where, key, variable, owners[variable]))
            owners[variable] = "%s.secrets.%s" % (where, key)
            all_secrets[variable] = "" if hidden[key] is None else str(hidden[key])
            environment[key] = "${%s}" % variable
        if environment:
            spec["environment"] = environment
        mounts = service.get("volumes") or []
        if not isinstance(mounts, (list, tuple)):
            raise DefinitionError("%s.volumes must be a list such as ['data:/data'], got %s." % (where, shown(mounts)))
        if mounts:
            spec["volumes"] = list(mounts)
            for mount in mounts:
                volume = named_volume(mount)
                if volume is not None:
                    declared[check_volume_name("%s.volumes" % where, volume)] = {}
        if service.get("healthcheck"):
            check_keys("%s.healthcheck" % where, service["healthcheck"], HEALTHCHECK_KEYS)
            spec["healthcheck"] = dict(service["healthcheck"])
        needs = depends_on("%s.depends_on" % where, service.get("depends_on"), [n for n in names if n != name])
        if needs:
            spec["depends_on"] = needs
        cap_add = string_list("%s.cap_add" % where, service.get("cap_add"))
        if cap_add:
            spec["cap_add"] = cap_add
        spec.update(hardening_of(where, service, defaults))
        out[name] = spec
        if service.get("health_url"):
            checks.append({"url": service["health_url"],
                           "status": service.get("health_status") or health_status,
                           "timeout": service.get("health_timeout") or health_timeout})
    definition = {"services": out}
    if declared:
        definition["volumes"] = declared
    return {"definition": definition, "secrets": all_secrets, "http_checks": checks}


def image_of(built):
    """The reference to deploy from what the build reported: a reference, or a result with tags."""
    if isinstance(built, dict):
        tags = built.get("tags") or []
        if not tags:
            raise DefinitionError("The build result %s has no tags to deploy." % shown(built.get("image_id") or built))
        return tags[0]
    return built


def product_services(product, name, images, publish_address="127.0.0.1", port_offset=0,
                     health_host="127.0.0.1", healthcheck=None, publish=True):
    """deploy_services of one bytelyst_products entry.

    Each product service (built by the playbooks) gets the image built for it (images:
    {service: reference, or product_image's result with its tags}), its port published at publish_address on host_port + port_offset
    and an HTTP check of health_path; extra_services (a database, a cache) are given whole,
    image included. healthcheck: timings for the product services' own probe.
    publish=False (behind the proxy): no published port and no HTTP check here (host_port is
    not needed); the proxy's routes (_routes.py) publish the product and check each service."""
    where = "bytelyst_products.%s" % name
    check_keys(where, product, PRODUCT_KEYS)
    built = product.get("services") or {}
    check_keys("%s.services" % where, built, list(built))
    services = []
    for service_name in sorted(built):
        check_service_name("%s.services: the name" % where, service_name)
        spec = built[service_name]
        at = "%s.services.%s" % (where, service_name)
        check_keys(at, spec, PRODUCT_SERVICE_KEYS)
        for key in ("port", "host_port") if publish else ("port",):
            value = spec.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value + (
                    int(port_offset) if key == "host_port" else 0) < 65536:
                raise DefinitionError("%s.%s must be a port number (1-65535%s), got %s." % (
                    at, key, " with bytelyst_port_offset %s added" % port_offset if key == "host_port" else "",
                    shown(value)))
        if service_name not in images:
            raise DefinitionError("%s has no built image (images were built for %s)." % (
                at, ", ".join(sorted(images)) or "nothing"))
        environment = {"PORT": spec["port"]}
        environment.update(spec.get("environment") or {})
        service = {"name": service_name, "image": image_of(images[service_name]), "environment": environment}
        if publish:
            port = spec["host_port"] + int(port_offset)
            service["ports"] = ["%s:%d:%d" % (publish_address, port, spec["port"])]
            service["health_url"] = "http://%s:%d%s" % (health_host, port, spec.get("health_path") or "/health")
        for key in ("secrets", "volumes", "depends_on", "cap_add") + HARDENING_KEYS:
            if key in spec:
                service[key] = spec[key]
        if spec.get("healthcheck") or healthcheck:
            service["healthcheck"] = dict(healthcheck or {}, **(spec.get("healthcheck") or {}))
        services.append(service)
    extra = product.get("extra_services") or {}
    check_keys("%s.extra_services" % where, extra, list(extra))
    for service_name in sorted(extra):
        check_service_name("%s.extra_services: the name" % where, service_name)
        spec = extra[service_name]
        at = "%s.extra_services.%s" % (where, service_name)
        check_keys(at, spec, EXTRA_SERVICE_KEYS)
        if service_name in built:
            raise DefinitionError("%s has the name of a built service; rename one of them." % at)
        services.append(dict(spec, name=service_name))
    return services


def product_secrets(product, name):
    """compose_deploy's `secrets` for one bytelyst_products entry, as a deploy of it passes them:
    what a rollback needs, without images (it restores a release's own)."""
    placeholders = dict((service, "rollback.invalid/unused") for service in (product.get("services") or {}))
    # Secrets do not depend on ports: publish=False takes products without host_port (behind the proxy).
    return render(product_services(product, name, placeholders, publish=False))["secrets"]


def unknown_key_problems(where, data, allowed, what):
    """One message per unknown key of the mapping `data` at `where`: the key, the closest
    known one and the fix (what: what the mapping is, for the list of keys it may have)."""
    if not isinstance(data, dict):
        return ["%s must be a mapping (%s), got %s." % (where, what, type(data).__name__)]
    problems = []
    for key in sorted(data, key=str):
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        if close:
            fix = "did you mean %s? Rename it to %s." % (close[0], close[0])
        else:
            fix = "no known key is close to it. Remove it, or use one of the keys it may have."
        problems.append("%s has the unknown key %s: %s (the keys of %s are %s)" % (
            where, shown(str(key)), fix, what, ", ".join(allowed)))
    return problems


def product_problems(products):
    """Every unknown key of bytelyst_products, as messages ([] when there is none), checked
    before anything is built: each product, its services (and their route and healthcheck)
    and its extra_services, against the keys the playbooks and the filters read (the lists
    above). Keys with free names (products, services, environment, secrets) are not checked."""
    if not isinstance(products, dict):
        return ["bytelyst_products must be a mapping of product name to its entry, got %s." % type(products).__name__]
    problems = []
    for name in sorted(products, key=str):
        where = "bytelyst_products.%s" % name
        product = products[name]
        found = unknown_key_problems(where, product, PRODUCT_KEYS, "a product")
        problems.extend(found)
        if not isinstance(product, dict):
            continue
        for field, keys, what in (("services", PRODUCT_SERVICE_KEYS, "a product service"),
                                  ("extra_services", EXTRA_SERVICE_KEYS, "an extra service")):
            services = product.get(field) or {}
            if not isinstance(services, dict):
                problems.append("%s.%s must be a mapping of service name to its settings, got %s." % (
                    where, field, type(services).__name__))
                continue
            for service in sorted(services, key=str):
                at = "%s.%s.%s" % (where, field, service)
                spec = services[service]
                problems.extend(unknown_key_problems(at, spec, keys, what))
                if not isinstance(spec, dict):
                    continue
                if isinstance(spec.get("healthcheck"), dict):
                    problems.extend(unknown_key_problems(
                        "%s.healthcheck" % at, spec["healthcheck"], HEALTHCHECK_KEYS, "a healthcheck"))
                if field == "services" and isinstance(spec.get("route"), dict):
                    problems.extend(unknown_key_problems("%s.route" % at, spec["route"], ROUTE_KEYS, "a route"))
    return problems
