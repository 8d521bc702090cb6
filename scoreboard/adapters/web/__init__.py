"""HTTP pieces shared by the api and the gateway: problem responses, health, metrics."""
