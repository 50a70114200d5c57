"""curation: turn noisy EN→ES machine-translation candidates into a clean training set."""

__version__ = "0.1.0"
