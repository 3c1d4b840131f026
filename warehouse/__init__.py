"""The DuckDB warehouse: schema, migrations, the writer and the read side."""
