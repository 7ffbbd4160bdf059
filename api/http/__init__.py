"""HTTP plumbing shared by every route: problems, bodies, pagination, ETags, middleware."""
