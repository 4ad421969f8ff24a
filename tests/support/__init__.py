"""The test kit: API Gateway events built from the canonical samples in ``tests/events``, users,
Lambda contexts and proxy-response readers, shared by every test that invokes a handler."""
