"""One module per resource, each exporting ``OPERATIONS``; ``api.routes.table`` wires them."""
