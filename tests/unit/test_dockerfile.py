"""Unit tests of the generated product Dockerfiles (_dockerfile.py): both modes, both kinds."""

import json

from ansible_collections.bytelyst.deploy.plugins.module_utils._dockerfile import DockerfileSpec, render


def spec(mode="base", kind="backend", **kwargs):
    images = ("dev:1.0.0", "backend:1.0.0") if mode == "base" else ("node:22-slim", "node:22-slim")
    args = dict(start=["node", "dist/server.js"], port=4016)
    args.update(kwargs)
    return DockerfileSpec(mode, kind, images[0], images[1], **args)


def all_stages(text):
    first, *rest = text.split("\n\nFROM ")
    return [first.splitlines()] + [("FROM " + stage).splitlines() for stage in rest]


def stages(text):
    """(builder, final): the first and the last stage."""
    found = all_stages(text)
    return found[0], found[-1]


def index(lines, prefix):
    return next(i for i, line in enumerate(lines) if line.startswith(prefix))


def test_base_backend_layer_order_and_runtime():
    builder, final = stages(render(spec()))
    assert builder[1] == "FROM dev:1.0.0 AS builder"
    assert "WORKDIR /app/backend" in builder
    # package.json and install before the sources (guide 5.1)
    assert index(builder, "COPY bytelyst/builder.json") < index(builder, "RUN --mount") < index(builder, "COPY source/")
    assert builder[-1] == "RUN NODE_ENV=production pnpm run build"
    assert final[0] == "FROM backend:1.0.0"
    assert index(final, "COPY --chown=node:node bytelyst/runtime.json") < index(final, "RUN --mount") < index(
        final, "COPY --from=builder")
    assert "COPY --from=builder --chown=node:node /app/backend/dist ./dist" in final
    assert "EXPOSE 4016" in final and "ENV NODE_ENV=production PORT=4016 HOST=0.0.0.0" in final
    assert final[-2:] == ["USER node", 'CMD ["node", "dist/server.js"]']
    install = [line for line in final if "pnpm install" in line][0]
    assert "--prod" in install and "--ignore-pnpmfile" in install and "--ignore-workspace" in install
    assert "--config.auto-install-peers=false" in install  # peers come from the base, never a second copy


def test_pnpm_store_cache_and_state_stay_in_the_cache_mount():
    for mode in ("base", "tarball"):
        text = render(spec(mode=mode))
        installs = [line for line in text.splitlines() if "pnpm install " in line]
        assert installs
        for line in installs:
            for option in ("store-dir", "cache-dir", "state-dir"):
                value = line.split("--config.%s=" % option, 1)[1].split()[0]
                assert value.startswith("/tmp/pnpm-store"), (option, line)
        uid = "1000" if mode == "base" else "0"
        assert "--mount=type=cache,id=bytelyst-pnpm-store-%s,target=/tmp/pnpm-store" % uid in text


def test_healthcheck_timings():
    final = stages(render(spec()))[1]
    line = final[index(final, "HEALTHCHECK")]
    assert "--interval=10s" in line and "--start-period=30s" in line and "--retries=3" in line


def test_secrets_are_mounts_only():
    text = render(spec())
    # the token's npmrc goes to a tmpfs of the step's own uid (node's, in a product built on a base)
    assert "--mount=type=tmpfs,target=/run/bytelyst-auth-1000" in text
    assert "> /run/bytelyst-auth-1000/npmrc; export NPM_CONFIG_USERCONFIG=/run/bytelyst-auth-1000/npmrc" in text
    assert "--mount=type=secret,id=ca,uid=1000" in text and "--mount=type=secret,id=npmrc,uid=1000" in text
    assert "ARG " not in text and "COPY" not in [line.split()[0] for line in text.splitlines() if "secrets" in line]


def test_healthcheck_probe_takes_port_and_path_as_arguments():
    final = stages(render(spec(health_path="/ready?x='1'")))[1]
    cmd = final[index(final, "HEALTHCHECK") + 1].strip()
    argv = json.loads(cmd[len("CMD "):])
    assert argv[:2] == ["/bin/sh", "-c"] and argv[5:7] == ["4016", "/ready?x='1'"]
    # the path only ever travels as an argument: no script text contains it
    assert not [arg for arg in (argv[2], argv[4], argv[7]) if "ready" in arg]


def test_nothing_to_install_skips_the_install_steps():
    builder, final = stages(render(spec(install_builder=False, install_final=False)))
    assert not [line for line in builder + final if "pnpm install" in line]


def test_base_next_web_copies_standalone_only():
    builder, final = stages(render(spec(kind="web", start=["node", "server.js"], port=3000,
                                        health_path="/api/health", next_standalone=True)))
    collect = [line for line in builder if ".next/standalone" in line][0]
    assert ".next/standalone/app/web .next/standalone/web .next/standalone;" in collect
    assert "ENV NEXT_TELEMETRY_DISABLED=1" in builder
    assert not [line for line in final if "pnpm install" in line]
    assert "COPY --from=builder --chown=node:node /tmp/bytelyst-standalone/ ./" in final
    assert final[-1] == 'CMD ["node", "server.js"]'
    assert "HOSTNAME=0.0.0.0" in [line for line in final if line.startswith("ENV ")][0]


def test_tarball_backend_installs_pnpm_and_vendor():
    builder, deps, final = all_stages(render(spec(mode="tarball", vendor=True, pnpm_version="10.6.5")))
    assert builder[1] == "FROM node:22-slim AS builder"
    assert "pnpm@10.6.5" in [line for line in builder if "npm install -g" in line][0]
    assert index(builder, "COPY vendor/ ./vendor/") < index(builder, "COPY bytelyst/builder.json")
    assert "--config.auto-install-peers=true" in [line for line in builder if "pnpm install" in line][0]
    # the production install (tarballs included) happens in a stage of its own ...
    assert deps[0] == "FROM node:22-slim AS deps"
    assert "pnpm@10.6.5" in [line for line in deps if "npm install -g" in line][0]
    install = [line for line in deps if "pnpm install" in line][0]
    assert index(deps, "COPY --chown=node:node vendor/") < index(deps, "COPY --chown=node:node bytelyst/runtime") < (
        deps.index(install))
    assert "--prod" in install and "--mount=type=secret,id=npmrc,uid=1000" in deps[deps.index(install) - 1]
    # ... and the final stage takes only node_modules from it: no tarball, no pnpm
    assert final[0] == "FROM node:22-slim"
    assert not [line for line in final if "vendor" in line or "pnpm" in line]
    assert index(final, "COPY --chown=node:node bytelyst/runtime") < index(
        final, "COPY --from=deps --chown=node:node /app/backend/node_modules ./node_modules") < index(
        final, "COPY --from=builder")
    assert final[-2] == "USER node"


def test_tarball_without_production_dependencies_has_no_deps_stage():
    text = render(spec(mode="tarball", vendor=True, install_final=False))
    assert len(all_stages(text)) == 2 and "AS deps" not in text and "--from=deps" not in text
    final = stages(text)[1]
    assert not [line for line in final if "vendor" in line or "pnpm" in line]


def test_tarball_next_web_has_no_deps_stage():
    text = render(spec(mode="tarball", kind="web", vendor=True, start=["node", "server.js"], port=3000,
                       health_path="/api/health", next_standalone=True))
    assert len(all_stages(text)) == 2 and "AS deps" not in text
    final = stages(text)[1]
    assert not [line for line in final if "vendor" in line or "pnpm" in line]
    assert "COPY --from=builder --chown=node:node /tmp/bytelyst-standalone/ ./" in final


def test_plain_node_web_is_like_a_backend():
    final = stages(render(spec(kind="web", port=3000)))[1]
    assert "COPY --from=builder --chown=node:node /app/web/dist ./dist" in final
    assert final[-1] == 'CMD ["node", "dist/server.js"]'


def test_render_is_deterministic():
    assert render(spec()) == render(spec())
    assert render(spec()) != render(spec(port=4017))


def test_base_and_product_images_install_with_the_same_secrets_token_file_and_store():
    from ansible_collections.bytelyst.deploy.plugins.module_utils._base_image import dockerfile as base_dockerfile
    base = base_dockerfile("node:22-slim", "backend", "1.0.0", "10.6.5")
    product = render(spec(mode="tarball", vendor=True))
    for text in (base, product):
        mounts = [line for line in text.splitlines() if line.startswith("RUN --mount")]
        assert mounts and all("--mount=type=secret,id=npmrc,uid=0,mode=0400 --mount=type=secret,id=ca,uid=0,mode=0400 "
                              "--mount=type=tmpfs,target=/run/bytelyst-auth-0" in line for line in mounts[:1])
        assert "--mount=type=cache,id=bytelyst-pnpm-store-0,target=/tmp/pnpm-store,uid=0,gid=0" in text
        # the token file holds `_authToken=<token>`; the step scopes it to the registry on the tmpfs
        assert "sed -n 's/^_authToken=//p' /run/secrets/npmrc" in text
        assert "export NPM_CONFIG_USERCONFIG=/run/bytelyst-auth-0/npmrc" in text
        assert "--config.store-dir=/tmp/pnpm-store --config.cache-dir=/tmp/pnpm-store/.cache" in text
