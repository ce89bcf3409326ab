"""One module per resource; each defines ``router`` and is included by ``create_app``."""
