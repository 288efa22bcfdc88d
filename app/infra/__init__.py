"""Running the engine: embedded servers, migrations, the process supervisor."""
