"""The database: schema, migrations and the queries of every part, behind one Store."""
