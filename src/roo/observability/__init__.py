"""Prometheus metrics: their definitions (`metrics`), the request middleware (`http`), the
scrape (`scrape`) and multiprocess mode (`multiproc`). docs/observability.md lists them."""
