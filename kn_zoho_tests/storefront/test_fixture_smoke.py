import sqlalchemy as sa


def test_each_test_gets_migrated_database(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM integration.schema_migrations")).scalar()
