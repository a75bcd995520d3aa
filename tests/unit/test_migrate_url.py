from engine.db import Database
from engine.migrate import alembic_config, upgrade


def test_percent_in_database_url_survives_alembic_config(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'a%25b.db'}")
    assert alembic_config(db).get_main_option("sqlalchemy.url").endswith("a%25b.db")
    upgrade(db)  # would raise "invalid interpolation syntax" without the escaping
