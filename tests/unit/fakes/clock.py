"""Time for the cores that wait (locks, token lifetimes, the proxy's reload): a clock that
only moves when the code sleeps or the test moves it."""


class FakeClock(object):
    """clock() or clock.now: the time; sleep(seconds) moves it on and adds to slept."""

    def __init__(self, now=1795773600.0):
        self.now = now
        self.slept = 0.0

    def __call__(self):
        return self.now

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.slept += seconds
