"""The store: SQLAlchemy Core tables, Alembic migrations, and a thread pool for queries."""
