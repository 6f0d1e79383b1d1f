"""One shared set of fakes for the unit tests, one module per family; each concept has one fake.

- fakes.engine: the Docker engine through the SDK (FakeClient with its images, low-level API,
  containers, info; FakeImage, FakeContainer, FakeTLSConfig).
"""
