"""The HTTP layer shared by every domain: error rendering, middleware, routing, docs, health."""
