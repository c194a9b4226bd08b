"""Theano's `theano.sandbox` module paths that programs import (`rng_mrg`)."""
