"""One shared set of fakes for the unit tests, one module per family; each concept has one fake.

- fakes.engine: the Docker engine through the SDK: FakeClient (images by reference and id, the
  low-level API's listing/inspect/history/containers/push/pull, containers, info, connect),
  FakeImage, FakeContainer, FakeTLSConfig.
- fakes.registry: container registries: FakeRegistryClient (a RegistryClient, or its constructor),
  FakeRegistry (the HTTP API v2 with basic or token auth and its token service: the client's
  transport in-process, or served on loopback with serve()).
- fakes.npm: the npm registry: FakeNpmRegistry (packuments, publish, a token, scripted first
  answers) as the transport of a real NpmRegistry (client() gives one); packuments() for short
  forms.
- fakes.commands: programs run through a command runner: FakePnpm, FakeTrivy.
- fakes.compose: `docker compose`: FakeCompose, FakeComposeProjects (blue/green's colors).
- fakes.proxy: FakeProxy (a ProxyHost), FakeNginx (the proxy container's nginx and status port).
- fakes.clock: FakeClock (time that moves when the code sleeps).
- fakes.product: FakeCompat (the compatibility check), NoBuilds, product_options (product_image's
  options with the module's defaults), example_product (a copy of an example product).

Left in its test file on purpose, because nothing else fakes what it stands for and it is
three lines: test_pnpm's FakePackage (a workspace package: a name and a directory).
"""
