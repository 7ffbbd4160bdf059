"""What `docker compose` runs beside the image: the stack's own configuration files, and the
script that renders the compose Caddyfile with the project's renderer."""
