"""HTTP API: FastAPI routers, schemas, error mapping and middleware."""
