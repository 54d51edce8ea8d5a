"""Moving from the embedded default to PostgreSQL: ``connections migrate --from-sqlite DIR --to-postgres URL``."""
