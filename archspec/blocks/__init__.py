"""The block types. Importing this package registers all of them."""
from . import act, compose, conv, linear, norm, pool  # noqa: F401
