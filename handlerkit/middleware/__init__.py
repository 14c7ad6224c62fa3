"""The built-in wrappers; each lives in its own module and is re-exported by ``handlerkit``."""
